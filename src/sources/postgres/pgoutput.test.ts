import { describe, expect, test } from 'vitest'
import { decodeMessage, lsnToNumber, numberToLsn, unchanged, unixMicros } from './pgoutput.js'

const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])])
const i16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}
const i32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const i64 = (n: bigint) => {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(n)
  return b
}
const text = (s: string) => Buffer.concat([Buffer.from('t'), i32(Buffer.byteLength(s)), Buffer.from(s)])

describe('pgoutput decoding', () => {
  test('begin and commit carry LSNs, commit time and xid', () => {
    const begin = decodeMessage(
      Buffer.concat([Buffer.from('B'), i64(0x1_0000_0010n), i64(1_000_000n), i32(4_000_000_000)]),
    )
    expect(begin).toEqual({ tag: 'begin', finalLsn: 0x1_0000_0010n, commitTime: 1_000_000n, xid: 4_000_000_000 })
    expect(unixMicros(0n)).toBe(946_684_800_000_000n)
    const commit = decodeMessage(Buffer.concat([Buffer.from('C'), Buffer.from([0]), i64(16n), i64(64n), i64(5n)]))
    expect(commit).toEqual({ tag: 'commit', commitLsn: 16n, endLsn: 64n, commitTime: 5n })
  })

  test('relations, and updates with an old key, nulls and an unchanged TOASTed value', () => {
    const relation = decodeMessage(
      Buffer.concat([
        Buffer.from('R'),
        i32(42),
        str('public'),
        str('docs'),
        Buffer.from('d'),
        i16(2),
        Buffer.from([1]),
        str('id'),
        i32(23),
        i32(0xffffffff),
        Buffer.from([0]),
        str('body'),
        i32(25),
        i32(0xffffffff),
      ]),
    )
    expect(relation).toEqual({
      tag: 'relation',
      relation: {
        id: 42,
        schema: 'public',
        name: 'docs',
        replicaIdentity: 'd',
        columns: [
          { name: 'id', key: true },
          { name: 'body', key: false },
        ],
      },
    })
    const update = decodeMessage(
      Buffer.concat([
        Buffer.from('U'),
        i32(42),
        Buffer.from('K'),
        i16(2),
        text('1'),
        Buffer.from('n'),
        Buffer.from('N'),
        i16(2),
        text('2'),
        Buffer.from('u'),
      ]),
    )
    expect(update).toEqual({
      tag: 'update',
      relation: 42,
      before: { kind: 'key', values: ['1', null] },
      after: ['2', unchanged],
    })
    const truncate = decodeMessage(Buffer.concat([Buffer.from('T'), i32(2), Buffer.from([1]), i32(42), i32(43)]))
    expect(truncate).toEqual({ tag: 'truncate', relations: [42, 43], cascade: true })
  })

  test('LSNs convert both ways', () => {
    expect(lsnToNumber('16/B374D848')).toBe(0x16_b374_d848)
    expect(numberToLsn(0x16_b374_d848)).toBe('16/B374D848')
  })
})
