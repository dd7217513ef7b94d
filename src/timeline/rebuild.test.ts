import { describe, expect, it } from 'vitest'
import type { Change, Row } from '../model.js'
import { moveOf, originsOf, RowTracker } from './rebuild.js'

const keys = new Map([['t', ['id']]])
let seq = 0
const change = (op: Change['op'], before: Row | null, after: Row | null, table = 't'): Change => ({
  seq: ++seq,
  time: 0,
  table,
  op,
  before,
  after,
})

describe('rebuilding rows from a snapshot and key-only changes', () => {
  it('lays partial after images over the row, and follows a row through key changes', () => {
    seq = 0
    const changes = [
      change('update', { id: '1' }, { id: '1', name: 'b' }), // body (TOASTed) not sent
      change('update', { id: '1' }, { id: '7', name: 'c' }), // a new key: 7 is row 1 now
      change('delete', { id: '7' }, null),
      change('insert', null, { id: '7', name: 'new', body: 'y' }),
      change('update', { id: '2' }, { id: '2', body: 'z' }),
    ]
    const moves = changes.flatMap((c) => moveOf(c, keys) ?? [])
    expect(moves).toEqual([{ seq: 2, table: 't', from: { id: '1' }, to: { id: '7' } }])
    // Row 7 at seq 2 was row 1 at the snapshot; at seq 5 its identity goes back to the insert, under 7.
    const origins = originsOf(
      [
        { table: 't', key: { id: '7' }, at: 2 },
        { table: 't', key: { id: '7' }, at: 5 },
        { table: 't', key: { id: '2' }, at: 5 },
      ],
      moves,
    )
    expect(origins.map((o) => o.key)).toEqual([{ id: '1' }, { id: '1' }, { id: '2' }])
    const base = [
      { table: 't', key: { id: '1' }, row: { id: '1', name: 'a', body: 'x' } },
      { table: 't', key: { id: '2' }, row: { id: '2', name: 'two', body: 'w' } },
    ]
    const tracker = new RowTracker(keys, base)
    for (const c of changes.slice(0, 2)) tracker.apply(c)
    expect(tracker.get('t', { id: '7' })).toEqual({ id: '7', name: 'c', body: 'x' })
    expect(tracker.get('t', { id: '1' })).toBeNull()
    for (const c of changes.slice(2)) tracker.apply(c)
    expect(tracker.get('t', { id: '7' })).toEqual({ id: '7', name: 'new', body: 'y' })
    expect(tracker.get('t', { id: '2' })).toEqual({ id: '2', name: 'two', body: 'z' })
  })

  it('empties followed rows on a truncate, and forgets a row moved in from one not followed', () => {
    seq = 0
    const tracker = new RowTracker(keys, [{ table: 't', key: { id: '1' }, row: { id: '1', v: 'a' } }])
    tracker.apply(change('delete', null, null))
    expect(tracker.get('t', { id: '1' })).toBeNull()
    tracker.apply(change('update', { id: '9' }, { id: '1', v: 'b' }))
    expect(tracker.get('t', { id: '1' })).toBeUndefined()
    expect(tracker.get('t', { id: '5' })).toBeUndefined()
  })
})
