import type { Change, Row } from '../model.js'
import type { RowKey } from '../sources/source.js'
import { identityOf, type KeyColumns, keyOf } from './diff.js'

/**
 * Rebuilding whole rows from a snapshot and the changes after it, for sources whose
 * captured images can be partial. Pseudo-code:
 *
 *   moves   = the changes since the snapshot that gave a row a new identity (a key update)
 *   origins = for each identity needed at a moment, walk the moves back from that moment:
 *             the identity its row had at the snapshot
 *   rows    = the origins' rows in the snapshot (the source reads them from its streams)
 *   replay the changes since the snapshot onto those rows only (RowTracker), reading off
 *   the needed rows at each moment.
 */

/** A change that moved a row to a new identity. */
export interface Move {
  seq: number
  table: string
  from: Row
  to: Row
}

/** The move a change makes, if it changes its row's identity. */
export function moveOf(change: Change, keyColumns: KeyColumns): Move | undefined {
  if (change.op !== 'update' || !change.before || !change.after) return undefined
  const from = keyOf(change, 'before', keyColumns)
  const to = keyOf(change, 'after', keyColumns)
  if (identityOf(change.table, from) === identityOf(change.table, to)) return undefined
  return { seq: change.seq, table: change.table, from, to }
}

/** The identity each needed row had at the snapshot, following its moves back from its moment. */
export function originsOf(needed: (RowKey & { at: number })[], moves: Move[]): RowKey[] {
  return needed.map(({ table, key, at }) => {
    let id = identityOf(table, key)
    let origin = key
    for (let i = moves.length - 1; i >= 0; i--) {
      const m = moves[i]!
      if (m.seq > at || m.table !== table || identityOf(table, m.to) !== id) continue
      origin = m.from
      id = identityOf(table, origin)
    }
    return { table, key: origin }
  })
}

/**
 * Follows a set of rows, by identity, through changes given in seq order. An update's
 * after image is laid over the row as it was (a partial image keeps the columns it lacks),
 * an insert replaces it, a delete or a truncate of its table leaves it absent (null).
 * A row moved in from an identity not followed is no longer known (undefined).
 */
export class RowTracker {
  private readonly rows = new Map<string, { table: string; row: Row | null }>()

  constructor(
    private readonly keyColumns: KeyColumns,
    start: { table: string; key: Row; row: Row | null }[],
  ) {
    for (const s of start) this.rows.set(identityOf(s.table, s.key), { table: s.table, row: s.row })
  }

  apply(c: Change): void {
    if (c.op === 'delete' && c.before === null) {
      for (const r of this.rows.values()) if (r.table === c.table) r.row = null
      return
    }
    const from = c.op === 'insert' ? undefined : identityOf(c.table, keyOf(c, 'before', this.keyColumns))
    const to = c.op === 'delete' ? undefined : identityOf(c.table, keyOf(c, 'after', this.keyColumns))
    const previous = from === undefined ? undefined : this.rows.get(from)
    let next: Row | null | undefined
    if (c.op === 'insert') next = c.after
    else if (c.op === 'update' && previous?.row) next = { ...previous.row, ...c.after }
    if (previous) previous.row = null
    if (to === undefined || (!this.rows.has(to) && !previous)) return
    if (next === undefined) this.rows.delete(to)
    else this.rows.set(to, { table: c.table, row: next })
  }

  /** The row with this identity now: null when absent, undefined when not followed. */
  get(table: string, key: Row): Row | null | undefined {
    return this.rows.get(identityOf(table, key))?.row
  }
}
