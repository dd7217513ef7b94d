/**
 * The domain's shared data: what sources produce and the repository stores. Types only,
 * at the bottom of the import graph beside errors.ts, so every room can name them.
 */

/** A column value, exactly: integers as bigint, reals as number, text, bytes, or null. */
export type Value = null | bigint | number | string | Uint8Array

export type Row = Record<string, Value>

/** One captured row change, with before and after images (null for an insert's before or a delete's after). */
export interface Change {
  /** The source's order: every change has its own, increasing in commit order. */
  seq: number
  /** When the statement ran (ms since the epoch), as the source recorded it. */
  time: number
  table: string
  op: 'insert' | 'update' | 'delete'
  /** The row's identity where the table has no declared key (SQLite's rowid), before and after. */
  rowid?: { before: Value; after: Value }
  before: Row | null
  after: Row | null
}

/** A proven transaction boundary: every change up to `seq` is committed, and none after it was at `time`. */
export interface Boundary {
  seq: number
  time: number
}
