import { DrkitError } from '../errors.js'
import type { Change, Row, Value } from '../model.js'

/**
 * The net effect of a window of changes on each row: its state at the window's start and
 * at its end, whatever happened in between. A row is identified by its rowid, or by its
 * primary key in a WITHOUT ROWID table; a change of rowid or key moves the row to a new
 * identity, so it nets out as a delete of the old one and an insert of the new one.
 * Rows whose end state equals their start state (inserted then deleted, changed then
 * changed back) are left out.
 */
export interface NetChange {
  table: string
  /** `{ rowid }` in a rowid table, the primary key's columns in a WITHOUT ROWID table. */
  key: Row
  op: 'insert' | 'update' | 'delete'
  /** The row at the window's start: null when it did not exist. */
  before: Row | null
  /** The row at the window's end: null when it did not exist. */
  after: Row | null
}

/** The primary key columns of WITHOUT ROWID tables, by table (rowid tables need none). */
export type KeyColumns = ReadonlyMap<string, readonly string[]>

/**
 * Nets changes, given in seq order, per row. Rows come out grouped by table (by name),
 * each table's rows in the order they were first changed.
 */
export async function netChanges(
  changes: Iterable<Change> | AsyncIterable<Change>,
  keyColumns: KeyColumns,
  opts: { columns?: KeyColumns } = {},
): Promise<NetChange[]> {
  const rows = new Map<string, { table: string; key: Row; before: Row | null; after: Row | null }>()
  const entry = (table: string, key: Row, before: Row | null) => {
    const id = identityOf(table, key)
    let found = rows.get(id)
    if (!found) {
      found = { table, key, before, after: before }
      rows.set(id, found)
    }
    return found
  }
  for await (const c of changes) {
    if (c.before === null && c.after === null) {
      throw new DrkitError(
        `table ${c.table} was emptied at once (TRUNCATE, change ${c.seq}) inside the window: ` +
          'its rows were not captured one by one, so they cannot be listed or put back by identity',
        `Restore the table as it was before instead: \`drkit restore RESOURCE --at FROM --tables ${c.table} --to NEW\`, ` +
          'or leave it out with --tables.',
      )
    }
    const from = c.op === 'insert' ? undefined : keyOf(c, 'before', keyColumns)
    const to = c.op === 'delete' ? undefined : keyOf(c, 'after', keyColumns)
    const moved = from !== undefined && to !== undefined && identityOf(c.table, from) !== identityOf(c.table, to)
    if (from && (moved || !to)) entry(c.table, from, c.before).after = null
    // An insert under an identity still present replaced that row (INSERT OR REPLACE records no delete
    // without recursive triggers): the row's earlier state stands as its `before`.
    if (to) entry(c.table, to, moved || !from ? null : c.before).after = c.after
  }
  const net: NetChange[] = []
  for (const r of rows.values()) {
    // A partial image (see `partialImage`) cannot tell: the caller completes it, then decides.
    if (sameImage(r.before, r.after) && !partialImage(r.before, opts.columns?.get(r.table))) continue
    const op = r.before === null ? 'insert' : r.after === null ? 'delete' : 'update'
    net.push({ table: r.table, key: r.key, op, before: r.before, after: r.after })
  }
  return net.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))
}

/**
 * Whether an image lacks some of its table's columns: PostgreSQL's capture logs only the
 * key of an updated or deleted row, and leaves unchanged TOASTed values out.
 */
export function partialImage(image: Row | null, columns: readonly string[] | undefined): boolean {
  return image !== null && columns?.some((c) => !(c in image)) === true
}

export function keyOf(change: Change, side: 'before' | 'after', keyColumns: KeyColumns): Row {
  if (change.rowid) return { rowid: change.rowid[side] }
  const columns = keyColumns.get(change.table)
  if (!columns) {
    throw new DrkitError(
      `cannot tell the rows of table ${change.table} apart: it has no rowid and its primary key is unknown`,
    )
  }
  const image = change[side]!
  return Object.fromEntries(columns.map((k) => [k, image[k] ?? null]))
}

/** A string naming one row of one table, equal for equal identities (values compared with their types). */
export function identityOf(table: string, key: Row): string {
  return JSON.stringify([table, ...Object.entries(key).map(([k, v]) => [k, typeof v, encodeJsonValue(v)])])
}

/** True when every column of `expected` has the same value, of the same type, in `actual` (or both are null). */
export function sameImage(expected: Row | null, actual: Row | null): boolean {
  if (expected === null || actual === null) return expected === actual
  return Object.entries(expected).every(([k, v]) => k in actual && sameValue(v, actual[k] ?? null))
}

function sameValue(a: Value, b: Value): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
  return typeof a === typeof b && a === b
}

/**
 * Values in JSON documents (`diff --json`, `undo --json`), without loss:
 *   NULL → null; TEXT → a string;
 *   INTEGER → a number when |n| < 2^53, else { "$int": "<decimal>" };
 *   REAL → a number when it has a fraction, else { "$real": "<decimal, Infinity, -Infinity or -0>" };
 *   BLOB → { "$bytes": "<base64>" }.
 * So a plain JSON number is an INTEGER exactly when it has no fraction.
 */
export type JsonValue = null | string | number | { $int: string } | { $real: string } | { $bytes: string }

export function encodeJsonValue(value: Value): JsonValue {
  if (value === null || typeof value === 'string') return value
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : { $int: String(value) }
  if (typeof value === 'number') {
    if (Number.isFinite(value) && !Number.isInteger(value)) return value
    return { $real: Object.is(value, -0) ? '-0' : String(value) }
  }
  return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
}

export function decodeJsonValue(json: JsonValue): Value {
  if (json === null || typeof json === 'string') return json
  if (typeof json === 'number') return Number.isInteger(json) ? BigInt(json) : json
  if ('$int' in json) return BigInt(json.$int)
  if ('$real' in json) return Number(json.$real)
  return Buffer.from(json.$bytes, 'base64')
}

export function encodeJsonRow(row: Row | null): Record<string, JsonValue> | null {
  return row === null ? null : Object.fromEntries(Object.entries(row).map(([k, v]) => [k, encodeJsonValue(v)]))
}
