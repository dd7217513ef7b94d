import type { Change, Row, Value } from '../../model.js'
import { displayName, listTables, type PgTable, quotedName } from './catalog.js'
import { ident, literal, type PgClient } from './connect.js'

/** Changes applied per transaction: a restore target is new, so batches only save round trips. */
const batchSize = 1000
/** A batch is sent early once its statements reach this size (large values). */
const batchBytes = 4 * 2 ** 20

/**
 * Applies captured changes, in order, to a restored database. Session replication role
 * `replica` keeps triggers and foreign-key checks quiet, as logical replication does: the
 * changes already hold what the source's triggers did. Rows are found by primary key, or
 * for tables without one (REPLICA IDENTITY FULL) by every column's text form.
 *
 * Each batch goes to the server as one multi-statement query with the values as literals
 * (`BEGIN; ...; COMMIT`): one round trip per thousand changes instead of one per change,
 * in exactly the captured order.
 */
export async function replayPostgres(client: PgClient, changes: AsyncIterable<Change>): Promise<number> {
  const tables = new Map((await listTables(client)).map((t) => [displayName(t), t]))
  await client.query('SET session_replication_role = replica').catch(() => {})
  await client.query('SET standard_conforming_strings = on')
  let applied = 0
  let batch: string[] = []
  let bytes = 0
  const flush = async () => {
    if (batch.length === 0) return
    const text = `BEGIN;\n${batch.join(';\n')};\nCOMMIT`
    batch = []
    bytes = 0
    try {
      await client.query(text)
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
  }
  for await (const change of changes) {
    const statement = statementFor(tables, change)
    applied++
    if (statement === undefined) continue
    batch.push(statement)
    bytes += statement.length
    if (batch.length >= batchSize || bytes >= batchBytes) await flush()
  }
  await flush()
  return applied
}

/** The statement that applies one change; undefined when it changes nothing (an update of identity columns only). */
function statementFor(tables: Map<string, PgTable>, c: Change): string | undefined {
  const table = tables.get(c.table)
  if (!table) throw new Error(`the change ${c.seq} is for table ${c.table}, which the restored database lacks`)
  const t = quotedName(table)
  if (c.op === 'insert') {
    const row = c.after!
    const cols = Object.keys(row)
    const override = table.alwaysIdentity.length > 0 ? ' OVERRIDING SYSTEM VALUE' : ''
    return `INSERT INTO ${t} (${cols.map(ident).join(', ')})${override} VALUES (${cols.map((col) => sqlValue(row[col])).join(', ')})`
  }
  if (c.op === 'delete' && c.before === null) return `DELETE FROM ${t}`
  const where = identity(t, table, c.before!)
  if (c.op === 'delete') return `DELETE FROM ${t} WHERE ${where}`
  const set = Object.keys(c.after!).filter((col) => !table.alwaysIdentity.includes(col))
  if (set.length === 0) return undefined
  const assignments = set.map((col) => `${ident(col)} = ${sqlValue(c.after![col])}`).join(', ')
  return `UPDATE ${t} SET ${assignments} WHERE ${where}`
}

/** A value as an untyped literal: the server reads it with the column's own input function, as it did a parameter. */
function sqlValue(v: Value | undefined): string {
  if (v === null || v === undefined) return 'NULL'
  if (typeof v === 'string') return literal(v)
  if (v instanceof Uint8Array) return `'\\x${Buffer.from(v).toString('hex')}'`
  return `'${v}'`
}

/** How to find the row an image describes: by primary key, or by every column's text form (the first match). */
function identity(t: string, table: PgTable, before: Row): string {
  if (table.key.length > 0) return table.key.map((c) => `${ident(c)} = ${sqlValue(before[c])}`).join(' AND ')
  const match = Object.keys(before)
    .map((c) => {
      const v = sqlValue(before[c])
      return `(CASE WHEN ${ident(c)} IS NULL THEN ${v}::text IS NULL ELSE format('%s', ${ident(c)}) = ${v}::text END)`
    })
    .join(' AND ')
  return `ctid = (SELECT ctid FROM ${t} WHERE ${match || 'true'} LIMIT 1)`
}
