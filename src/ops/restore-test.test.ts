import { describe, expect, it } from 'vitest'
import type { Snapshot } from '../repository/index.js'
import type { RestoreResult } from './restore.js'
import { checkRecorded, compareFingerprints } from './restore-test.js'

const fp = (tables: Record<string, [number, string]>) => ({
  tables: Object.fromEntries(Object.entries(tables).map(([name, [rows, hash]]) => [name, { rows, hash }])),
})

function restored(tables: { name: string; rows: number }[], changes = 0): RestoreResult {
  return { snapshot: { tables } as Snapshot, changes, time: '2026-01-01T00:00:00.000Z' } as RestoreResult
}

describe('compareFingerprints', () => {
  it('finds nothing lost between equal states, whatever the window', () => {
    const a = fp({ users: [3, 'aa'], orders: [5, 'bb'] })
    expect(compareFingerprints(a, fp({ orders: [5, 'bb'], users: [3, 'aa'] }), 9000)).toEqual({
      changes: 0,
      windowMs: 0,
      exact: true,
      tables: [],
    })
  })

  it('counts the row difference of each differing table, and at least one change each', () => {
    const expected = fp({ users: [3, 'aa'], orders: [5, 'bb'], tags: [1, 'cc'] })
    const actual = fp({ users: [3, 'zz'], orders: [2, 'yy'] })
    expect(compareFingerprints(expected, actual, 1500)).toEqual({
      changes: 1 + 3 + 1,
      windowMs: 1500,
      exact: false,
      tables: ['orders', 'tags', 'users'],
    })
  })
})

describe('checkRecorded', () => {
  it('compares the counts recorded at backup time, table by table', () => {
    const recovered = fp({ users: [3, 'aa'], orders: [4, 'bb'] })
    expect(checkRecorded(restored([{ name: 'users', rows: 3 }]), recovered)).toEqual([])
    expect(checkRecorded(restored([{ name: 'orders', rows: 5 }]), recovered)).toEqual([
      'orders: 4 rows restored, 5 recorded at backup time',
    ])
  })

  it('compares totals where the source counts under other names than its fingerprint', () => {
    const tree = fp({ a: [2, 'aa'], 'two.txt': [1, 'bb'] })
    expect(checkRecorded(restored([{ name: 'files', rows: 3 }]), tree)).toEqual([])
    expect(checkRecorded(restored([{ name: 'files', rows: 4 }]), tree)).toEqual([
      '3 entries restored, 4 recorded at backup time',
    ])
  })

  it('cannot check a restore that replayed changes on top of the snapshot', () => {
    expect(checkRecorded(restored([{ name: 'users', rows: 99 }], 7), fp({ users: [3, 'aa'] }))).toEqual([])
  })
})
