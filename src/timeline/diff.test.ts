import { describe, expect, test } from 'vitest'
import { DrkitError } from '../errors.js'
import type { Change, Row } from '../model.js'
import { decodeJsonValue, encodeJsonRow, encodeJsonValue, netChanges } from './diff.js'

/** Changes of rowid table `t` (and others), numbered in the order they are made. */
function recorder() {
  let seq = 0
  const make = (c: Omit<Change, 'seq' | 'time'>): Change => ({ seq: ++seq, time: 1000 + seq, ...c })
  return {
    insert: (rowid: bigint, after: Row, table = 't') =>
      make({ table, op: 'insert', rowid: { before: null, after: rowid }, before: null, after }),
    update: (rowid: bigint, before: Row, after: Row, table = 't', newRowid = rowid) =>
      make({ table, op: 'update', rowid: { before: rowid, after: newRowid }, before, after }),
    delete: (rowid: bigint, before: Row, table = 't') =>
      make({ table, op: 'delete', rowid: { before: rowid, after: null }, before, after: null }),
    /** A change of WITHOUT ROWID table `w` (primary key: region, id). */
    keyed: (op: Change['op'], before: Row | null, after: Row | null) => make({ table: 'w', op, before, after }),
  }
}

const keys = new Map([['w', ['region', 'id']]])

describe('netChanges', () => {
  test('a row inserted then updated is one insert of its last state', async () => {
    const r = recorder()
    const changes = [r.insert(1n, { name: 'a', n: 1n }), r.update(1n, { name: 'a', n: 1n }, { name: 'b', n: 2n })]
    expect(await netChanges(changes, keys)).toEqual([
      { table: 't', key: { rowid: 1n }, op: 'insert', before: null, after: { name: 'b', n: 2n } },
    ])
  })

  test('a row updated then deleted is one delete of its first state', async () => {
    const r = recorder()
    const changes = [r.update(4n, { name: 'a' }, { name: 'b' }), r.delete(4n, { name: 'b' })]
    expect(await netChanges(changes, keys)).toEqual([
      { table: 't', key: { rowid: 4n }, op: 'delete', before: { name: 'a' }, after: null },
    ])
  })

  test('a row deleted then inserted again under its rowid is an update, or nothing when it is the same', async () => {
    const r = recorder()
    const changed = [r.delete(2n, { name: 'a' }), r.insert(2n, { name: 'z' })]
    expect(await netChanges(changed, keys)).toEqual([
      { table: 't', key: { rowid: 2n }, op: 'update', before: { name: 'a' }, after: { name: 'z' } },
    ])
    expect(await netChanges([r.delete(3n, { name: 'a' }), r.insert(3n, { name: 'a' })], keys)).toEqual([])
  })

  test('rows inserted then deleted, or changed and changed back, are left out', async () => {
    const r = recorder()
    const changes = [
      r.insert(7n, { name: 'tmp' }),
      r.delete(7n, { name: 'tmp' }),
      r.update(8n, { name: 'a' }, { name: 'b' }),
      r.update(8n, { name: 'b' }, { name: 'a' }),
    ]
    expect(await netChanges(changes, keys)).toEqual([])
  })

  test('values are compared with their types: the integer 1 is not the real 1.0', async () => {
    const r = recorder()
    const changes = [r.update(1n, { v: 1n, b: Buffer.from('x') }, { v: 1, b: new Uint8Array([0x78]) })]
    expect(await netChanges(changes, keys)).toEqual([
      {
        table: 't',
        key: { rowid: 1n },
        op: 'update',
        before: { v: 1n, b: Buffer.from('x') },
        after: changes[0]!.after,
      },
    ])
  })

  test('a change of rowid is a delete of the old row and an insert of the new one', async () => {
    const r = recorder()
    const changes = [
      r.update(3n, { id: 3n, name: 'a' }, { id: 10n, name: 'a' }, 't', 10n),
      r.update(10n, { id: 10n, name: 'a' }, { id: 10n, name: 'b' }),
    ]
    expect(await netChanges(changes, keys)).toEqual([
      { table: 't', key: { rowid: 3n }, op: 'delete', before: { id: 3n, name: 'a' }, after: null },
      { table: 't', key: { rowid: 10n }, op: 'insert', before: null, after: { id: 10n, name: 'b' } },
    ])
  })

  test('WITHOUT ROWID rows are identified by their primary key, and a key change moves them', async () => {
    const r = recorder()
    const changes = [
      r.keyed('update', { region: 'eu', id: 1n, v: 'a' }, { region: 'us', id: 1n, v: 'a' }),
      r.keyed('insert', null, { region: 'eu', id: 2n, v: 'b' }),
      r.keyed('update', { region: 'eu', id: 2n, v: 'b' }, { region: 'eu', id: 2n, v: 'c' }),
    ]
    expect(await netChanges(changes, keys)).toEqual([
      {
        table: 'w',
        key: { region: 'eu', id: 1n },
        op: 'delete',
        before: { region: 'eu', id: 1n, v: 'a' },
        after: null,
      },
      {
        table: 'w',
        key: { region: 'us', id: 1n },
        op: 'insert',
        before: null,
        after: { region: 'us', id: 1n, v: 'a' },
      },
      {
        table: 'w',
        key: { region: 'eu', id: 2n },
        op: 'insert',
        before: null,
        after: { region: 'eu', id: 2n, v: 'c' },
      },
    ])
  })

  test('an insert over a row that exists (INSERT OR REPLACE) keeps the row as it was before the window', async () => {
    const r = recorder()
    const changes = [r.update(5n, { name: 'a' }, { name: 'b' }), r.insert(5n, { name: 'c' })]
    expect(await netChanges(changes, keys)).toEqual([
      { table: 't', key: { rowid: 5n }, op: 'update', before: { name: 'a' }, after: { name: 'c' } },
    ])
  })

  test('rows come grouped by table name, each table in the order its rows were first changed', async () => {
    const r = recorder()
    const changes = [
      r.insert(9n, { x: 1n }, 'zeta'),
      r.insert(2n, { x: 1n }),
      r.insert(1n, { x: 1n }, 'alpha'),
      r.insert(1n, { x: 1n }),
      r.insert(3n, { x: 1n }, 'zeta'),
    ]
    const order = (await netChanges(changes, keys)).map((n) => `${n.table}:${n.key.rowid}`)
    expect(order).toEqual(['alpha:1', 't:2', 't:1', 'zeta:9', 'zeta:3'])
  })

  test('reads async iterables, and refuses a table whose rows it cannot tell apart', async () => {
    const r = recorder()
    async function* stream() {
      yield r.insert(1n, { x: 1n })
    }
    expect(await netChanges(stream(), keys)).toHaveLength(1)
    const unknown = { ...r.keyed('insert', null, { id: 1n }), table: 'mystery' }
    await expect(netChanges([unknown], keys)).rejects.toThrow(DrkitError)
  })
})

describe('JSON values', () => {
  const values = [
    null,
    'héllo 🌍 \u0000 end',
    42n,
    -(2n ** 53n) + 1n,
    2n ** 53n,
    -(2n ** 63n),
    0.1,
    -2.5e-300,
    2,
    -0,
    Number.POSITIVE_INFINITY,
    Buffer.from([0, 255, 1, 2]),
  ]

  test('encode to the documented forms', () => {
    expect(values.map(encodeJsonValue)).toEqual([
      null,
      'héllo 🌍 \u0000 end',
      42,
      -9007199254740991,
      { $int: '9007199254740992' },
      { $int: '-9223372036854775808' },
      0.1,
      -2.5e-300,
      { $real: '2' },
      { $real: '-0' },
      { $real: 'Infinity' },
      { $bytes: 'AP8BAg==' },
    ])
    expect(encodeJsonRow({ a: 1n, b: null })).toEqual({ a: 1, b: null })
    expect(encodeJsonRow(null)).toBeNull()
  })

  test('survive JSON text unchanged, with their types', () => {
    const back = JSON.parse(JSON.stringify(values.map(encodeJsonValue))).map(decodeJsonValue)
    expect(back).toEqual(values)
    expect(back.map((v: unknown) => typeof v)).toEqual(values.map((v) => typeof v))
    expect(Object.is(back[9], -0)).toBe(true)
  })
})

describe('a truncate inside the window', () => {
  test('is refused with what to do instead: its rows were never captured one by one', async () => {
    const truncate = { seq: 3, time: 0, table: 'events', op: 'delete' as const, before: null, after: null }
    await expect(netChanges([truncate], new Map([['events', ['id']]]))).rejects.toThrow(
      /table events was emptied at once \(TRUNCATE, change 3\)/,
    )
  })
})
