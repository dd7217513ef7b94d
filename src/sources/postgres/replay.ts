import type { Change, Row } from '../../model.js'
import { displayName, listTables, type PgTable, quotedName } from './catalog.js'
import { ident, type PgClient } from './connect.js'

/** Changes applied per transaction: a restore target is new, so batches only save round trips. */
const batchSize = 1000

/**
 * Applies captured changes, in order, to a restored database. Session replication role
 * `replica` keeps triggers and foreign-key checks quiet, as logical replication does: the
 * changes already hold what the source's triggers did. Rows are found by primary key, or
 * for tables without one (REPLICA IDENTITY FULL) by every column's text form.
 */
export async function replayPostgres(client: PgClient, changes: AsyncIterable<Change>): Promise<number> {
  const tables = new Map((await listTables(client)).map((t) => [displayName(t), t]))
  const names = new Map<string, string>()
  await client.query('SET session_replication_role = replica').catch(() => {})
  let applied = 0
  let open = false
  try {
    for await (const change of changes) {
      if (!open) {
        await client.query('BEGIN')
        open = true
      }
      await apply(client, tables, names, change)
      if (++applied % batchSize === 0) {
        await client.query('COMMIT')
        open = false
      }
    }
    if (open) await client.query('COMMIT')
  } catch (err) {
    if (open) await client.query('ROLLBACK').catch(() => {})
    throw err
  }
  return applied
}

async function apply(client: PgClient, tables: Map<string, PgTable>, names: Map<string, string>, c: Change) {
  const table = tables.get(c.table)
  if (!table) throw new Error(`the change ${c.seq} is for table ${c.table}, which the restored database lacks`)
  const t = quotedName(table)
  const run = (text: string, values: unknown[]) => {
    let name = names.get(text)
    if (!name) {
      name = `drkit_${names.size}`
      names.set(text, name)
    }
    return client.query({ name, text, values })
  }
  if (c.op === 'insert') {
    const cols = Object.keys(c.after!)
    const override = table.alwaysIdentity.length > 0 ? ' OVERRIDING SYSTEM VALUE' : ''
    const params = cols.map((_, i) => `$${i + 1}`)
    await run(
      `INSERT INTO ${t} (${cols.map(ident).join(', ')})${override} VALUES (${params.join(', ')})`,
      values(c.after!),
    )
    return
  }
  if (c.op === 'delete' && c.before === null) {
    await client.query(`DELETE FROM ${t}`)
    return
  }
  const where = identity(table, c.before!, 1)
  if (c.op === 'delete') {
    await run(`DELETE FROM ${t} WHERE ${where.sql(t)}`, where.values)
    return
  }
  const set = Object.keys(c.after!).filter((col) => !table.alwaysIdentity.includes(col))
  if (set.length === 0) return
  const from = where.values.length + 1
  const assignments = set.map((col, i) => `${ident(col)} = $${from + i}`).join(', ')
  await run(`UPDATE ${t} SET ${assignments} WHERE ${where.sql(t)}`, [
    ...where.values,
    ...set.map((col) => c.after![col] ?? null),
  ])
}

function values(row: Row): unknown[] {
  return Object.values(row)
}

/** How to find the row an image describes: by primary key, or by every column's text form (the first match). */
function identity(table: PgTable, before: Row, first: number) {
  if (table.key.length > 0) {
    const cols = table.key
    return {
      values: cols.map((c) => before[c] ?? null),
      sql: () => cols.map((c, i) => `${ident(c)} = $${first + i}`).join(' AND '),
    }
  }
  const cols = Object.keys(before)
  const match = cols
    .map(
      (c, i) =>
        `(CASE WHEN ${ident(c)} IS NULL THEN $${first + i}::text IS NULL ELSE format('%s', ${ident(c)}) = $${first + i}::text END)`,
    )
    .join(' AND ')
  return {
    values: cols.map((c) => before[c] ?? null),
    sql: (t: string) => `ctid = (SELECT ctid FROM ${t} WHERE ${match || 'true'} LIMIT 1)`,
  }
}
