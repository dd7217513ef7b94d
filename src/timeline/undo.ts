import { InternalError } from '../errors.js'
import type { Row } from '../model.js'
import type { RowKey, RowWrite } from '../sources/source.js'
import { type NetChange, sameImage } from './diff.js'

/** A row changed in the window and changed again after it: the live row is not the window's end state. */
export interface UndoConflict extends RowKey {
  /** The row at the window's start (what undo would put back), at its end, and now. */
  before: Row | null
  after: Row | null
  live: Row | null
}

export interface UndoPlan {
  /** In the order to apply them: deletes, then updates, then inserts, so that unique values are free when reused. */
  writes: RowWrite[]
  /** Left alone, unless `force`: then overwritten too, and still listed. */
  conflicts: UndoConflict[]
  /** Rows already in their state at the window's start: nothing to write. */
  unchanged: number
}

/**
 * Decides how to put every row of `net` back to its state at the window's start, given
 * `current`, the live row for each (null where there is none), in the same order. A row
 * whose live state is not its state at the window's end was changed again since: a
 * conflict, left alone unless `force`.
 */
export function planUndo(net: NetChange[], current: (Row | null)[], opts: { force?: boolean } = {}): UndoPlan {
  if (current.length !== net.length) {
    throw new InternalError(`planUndo got ${current.length} live rows for ${net.length} changed rows`)
  }
  const deletes: RowWrite[] = []
  const updates: RowWrite[] = []
  const inserts: RowWrite[] = []
  const conflicts: UndoConflict[] = []
  let unchanged = 0
  net.forEach((change, i) => {
    const live = current[i] ?? null
    const { table, key, before, after } = change
    if (sameImage(before, live)) {
      unchanged++
      return
    }
    if (!sameImage(after, live)) {
      conflicts.push({ table, key, before, after, live })
      if (!opts.force) return
    }
    if (before === null) deletes.push({ op: 'delete', table, key })
    else if (live === null) inserts.push({ op: 'insert', table, key, row: before })
    else updates.push({ op: 'update', table, key, row: before })
  })
  return { writes: [...deletes, ...updates, ...inserts], conflicts, unchanged }
}
