import type { Row } from '../../../model.js'
import type { RowWrite } from '../../source.js'
import { ident, type PgClient } from '../connect.js'
import { checkReferences, type ForeignKey } from './references.js'
import { firstMatch, type RowTable } from './tables.js'

/** Rows written per statement. */
const batchSize = 1000

/**
 * Applies writes in the order given. Consecutive writes of one kind to one table (for
 * updates: setting the same columns) go as one statement over arrays of text values, each
 * cast to its column's type; rows of a table keyed by all its columns are deleted one by
 * one (identical rows cannot be told apart, so each statement takes the first match), and
 * never updated (a change of any column is a new identity: a delete and an insert).
 * An update sets only the columns that differ from the live row: column triggers see
 * what the undo changed, and no more.
 */
export async function applyWrites(
  c: PgClient,
  tables: Map<string, RowTable>,
  references: ForeignKey[],
  writes: RowWrite[],
  live: Map<Row, Row | null>,
): Promise<void> {
  let batch: { id: string; t: RowTable; op: RowWrite['op']; columns: string[]; writes: RowWrite[] } | undefined
  const flush = async () => {
    if (batch) await applyBatch(c, references, batch.t, batch.op, batch.columns, batch.writes)
    batch = undefined
  }
  for (const w of writes) {
    const t = tables.get(w.table)!
    if (t.wholeRow && w.op === 'delete') {
      await flush()
      await deleteFirst(c, references, t, w.key)
      continue
    }
    const columns = w.op === 'delete' ? [] : changed(t, w.row, w.op === 'update' ? (live.get(w.key) ?? null) : null)
    if (w.op === 'update' && columns.length === 0) continue
    const id = [w.op, w.table, ...columns].join('\0')
    if (batch?.id !== id || batch.writes.length >= batchSize) {
      await flush()
      batch = { id, t, op: w.op, columns, writes: [] }
    }
    batch.writes.push(w)
  }
  await flush()
}

/** The columns to write: all of an insert's, an update's that differ from the live row (identity columns never). */
function changed(t: RowTable, row: Row, live: Row | null): string[] {
  return Object.keys(row).filter(
    (k) => live === null || (!t.pg.alwaysIdentity.includes(k) && !t.key.includes(k) && live[k] !== row[k]),
  )
}

async function applyBatch(
  c: PgClient,
  references: ForeignKey[],
  t: RowTable,
  op: RowWrite['op'],
  columns: string[],
  writes: RowWrite[],
): Promise<void> {
  const keys = writes.map((w) => w.key)
  const rows = writes.map((w) => (w.op === 'delete' ? {} : w.row))
  // unnest's columns: the key's (k0, k1, ...) and then the values' (v0, v1, ...), each a text array.
  const keyNames = t.key.map((_, j) => `_drkit_k${j}`)
  const valueNames = columns.map((_, j) => `_drkit_v${j}`)
  const arrays = [
    ...(op === 'insert' ? [] : t.key.map((k) => keys.map((key) => key[k] ?? null))),
    ...columns.map((col) => rows.map((row) => row[col] ?? null)),
  ]
  const names = [...(op === 'insert' ? [] : keyNames), ...valueNames]
  const source = `unnest(${arrays.map((_, j) => `$${j + 1}::text[]`).join(', ')}) AS v(${names.join(', ')})`
  const byKey = t.key.map((k, j) => `r.${ident(k)} = v.${keyNames[j]}::${t.types.get(k)}`).join(' AND ')
  const value = (col: string, j: number) => `v.${valueNames[j]}::${t.types.get(col)}`
  if (op === 'delete') {
    await checkReferences(c, references, t, { source, values: arrays, byKey })
    await c.query(`DELETE FROM ${t.sql} r USING ${source} WHERE ${byKey}`, arrays)
  } else if (op === 'update') {
    const set = columns.map((col, j) => `${ident(col)} = ${value(col, j)}`).join(', ')
    await c.query(`UPDATE ${t.sql} r SET ${set} FROM ${source} WHERE ${byKey}`, arrays)
  } else {
    const override = t.pg.alwaysIdentity.length > 0 ? ' OVERRIDING SYSTEM VALUE' : ''
    await c.query(
      `INSERT INTO ${t.sql} (${columns.map(ident).join(', ')})${override} SELECT ${columns.map(value).join(', ')} FROM ${source}`,
      arrays,
    )
  }
}

/** The first row of a table keyed by all its columns that has these values. */
async function deleteFirst(c: PgClient, references: ForeignKey[], t: RowTable, key: Row): Promise<void> {
  const where = firstMatch(t, key, 1)
  await checkReferences(c, references, t, {
    source: `(SELECT ctid AS _drkit_ctid FROM ${t.sql} WHERE ${where.sql}) v`,
    values: where.values,
    byKey: 'r.ctid = v._drkit_ctid',
  })
  await c.query({ text: `DELETE FROM ${t.sql} WHERE ${where.sql}`, values: where.values })
}
