import { describe, expect, test } from 'vitest'
import { InternalError } from '../errors.js'
import type { Row } from '../model.js'
import type { NetChange } from './diff.js'
import { planUndo } from './undo.js'

const row = (rowid: bigint, before: Row | null, after: Row | null): NetChange => ({
  table: 'tenants',
  key: { rowid },
  op: before === null ? 'insert' : after === null ? 'delete' : 'update',
  before,
  after,
})

// What netChanges gives for the classic sequences within a window.
const updatedThenDeleted = row(1n, { name: 'a', n: 1n }, null)
const insertedThenUpdated = row(2n, null, { name: 'new', n: 2n })
const deletedThenReinserted = row(3n, { name: 'old' }, { name: 'other' })
const keyChangeOld = row(4n, { id: 4n, name: 'k' }, null)
const keyChangeNew = row(40n, null, { id: 40n, name: 'k' })

describe('planUndo', () => {
  test('puts each row back to its state at the window start: deletes, then updates, then inserts', () => {
    const net = [updatedThenDeleted, insertedThenUpdated, deletedThenReinserted, keyChangeOld, keyChangeNew]
    // Nothing changed after the window: every live row is its state at the window's end.
    const plan = planUndo(
      net,
      net.map((n) => n.after),
    )
    expect(plan).toEqual({
      writes: [
        { op: 'delete', table: 'tenants', key: { rowid: 2n } },
        { op: 'delete', table: 'tenants', key: { rowid: 40n } },
        { op: 'update', table: 'tenants', key: { rowid: 3n }, row: { name: 'old' } },
        { op: 'insert', table: 'tenants', key: { rowid: 1n }, row: { name: 'a', n: 1n } },
        { op: 'insert', table: 'tenants', key: { rowid: 4n }, row: { id: 4n, name: 'k' } },
      ],
      conflicts: [],
      unchanged: 0,
    })
  })

  test('a row changed again after the window is a conflict, left alone', () => {
    const corrupted = row(5n, { name: 'good', n: 1n }, { name: 'bad', n: 1n })
    const live = { name: 'bad', n: 2n }
    expect(planUndo([corrupted, deletedThenReinserted], [live, deletedThenReinserted.after])).toEqual({
      writes: [{ op: 'update', table: 'tenants', key: { rowid: 3n }, row: { name: 'old' } }],
      conflicts: [{ table: 'tenants', key: { rowid: 5n }, before: corrupted.before, after: corrupted.after, live }],
      unchanged: 0,
    })
  })

  test('with force, conflicts are overwritten too, and still listed', () => {
    const corrupted = row(5n, { name: 'good' }, { name: 'bad' })
    const plan = planUndo(
      [corrupted, updatedThenDeleted, insertedThenUpdated],
      // Deleted since, inserted again since, and changed again since.
      [null, { name: 'back', n: 9n }, { name: 'newer', n: 3n }],
      { force: true },
    )
    expect(plan.writes).toEqual([
      { op: 'delete', table: 'tenants', key: { rowid: 2n } },
      { op: 'update', table: 'tenants', key: { rowid: 1n }, row: { name: 'a', n: 1n } },
      { op: 'insert', table: 'tenants', key: { rowid: 5n }, row: { name: 'good' } },
    ])
    expect(plan.conflicts.map((c) => c.key.rowid)).toEqual([5n, 1n, 2n])
  })

  test('a row already back in its state at the window start needs nothing, and is no conflict', () => {
    const plan = planUndo([deletedThenReinserted, insertedThenUpdated], [{ name: 'old' }, null])
    expect(plan).toEqual({ writes: [], conflicts: [], unchanged: 2 })
  })

  test('live rows are compared on the image columns, with their types', () => {
    const changed = row(6n, { n: 1n }, { n: 2n })
    // A column added since does not make a conflict; the real 2.0 is not the integer 2.
    expect(planUndo([changed], [{ n: 2n, added: 'x' }]).conflicts).toEqual([])
    expect(planUndo([changed], [{ n: 2 }]).conflicts).toHaveLength(1)
  })

  test('needs one live row per changed row', () => {
    expect(() => planUndo([updatedThenDeleted], [])).toThrow(InternalError)
  })
})
