import type Database from 'better-sqlite3'
import { DrkitError } from '../../errors.js'
import type { Change, Row, Value } from '../../model.js'
import { quoteIdent, rowidName } from './schema.js'

/**
 * Applies captured changes, in order, to a restored database, in one transaction.
 *
 * The application's triggers are set aside while changes are applied (the rows they
 * wrote were captured as changes of their own) and put back afterwards; foreign keys
 * are not checked, since every transaction being replayed already satisfied them.
 * Inserts and updates use OR REPLACE, as the original statement did when a row was
 * replaced (SQLite only fires delete triggers for such rows with recursive triggers on).
 */
export async function replayChanges(db: Database.Database, changes: AsyncIterable<Change>): Promise<number> {
  db.pragma('foreign_keys = OFF')
  const triggers = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").all() as {
    name: string
    sql: string
  }[]
  const statements = new Map<string, Prepared>()
  const keys = new Map<string, string[]>()
  let count = 0
  db.exec('BEGIN')
  try {
    for (const t of triggers) db.exec(`DROP TRIGGER ${quoteIdent(t.name)}`)
    for await (const change of changes) {
      apply(db, change, statements, keys)
      count++
    }
    for (const t of triggers) db.exec(t.sql)
    db.exec('COMMIT')
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw err
  }
  return count
}

/** A statement for one table, operation and set of columns. */
interface Prepared {
  columns: string[]
  statement: Database.Statement
}

/** Whether the row has exactly these columns, in this order (the common case: one statement per table and op). */
function hasColumns(row: Row, columns: string[]): boolean {
  let i = 0
  for (const column in row) if (columns[i++] !== column) return false
  return i === columns.length
}

function apply(
  db: Database.Database,
  change: Change,
  statements: Map<string, Prepared>,
  keys: Map<string, string[]>,
): void {
  const byRowid = change.rowid !== undefined
  const image = (change.after ?? change.before) as Row
  const key = byRowid ? [] : primaryKey(db, change.table, keys)
  const planKey = `${change.op}\u0000${change.table}`
  let prepared = statements.get(planKey)
  if (!prepared || !hasColumns(image, prepared.columns)) {
    prepared = prepare(db, change, image, key)
    statements.set(planKey, prepared)
  }
  // One parameter array per change, in the statement's order: replay runs once per change.
  const params: Value[] = []
  if (change.op !== 'delete') {
    if (byRowid) params.push(bindable(change.rowid!.after))
    const after = change.after
    for (const c of prepared.columns) params.push(bindable(after?.[c] ?? null))
  }
  if (change.op !== 'insert') {
    if (byRowid) params.push(bindable(change.rowid!.before))
    else for (const k of key) params.push(bindable(change.before?.[k] ?? null))
  }
  prepared.statement.run(params)
}

function prepare(db: Database.Database, change: Change, image: Row, key: string[]): Prepared {
  const t = quoteIdent(change.table)
  const byRowid = change.rowid !== undefined
  const columns = Object.keys(image)
  const cols = columns.map(quoteIdent)
  const rowid = byRowid ? rowidOf(db, change.table) : ''
  const where = byRowid ? `${rowid} = ?` : key.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')
  const sql =
    change.op === 'insert'
      ? `INSERT OR REPLACE INTO ${t} (${[...(byRowid ? [rowid] : []), ...cols].join(', ')}) ` +
        `VALUES (${Array(cols.length + (byRowid ? 1 : 0))
          .fill('?')
          .join(', ')})`
      : change.op === 'update'
        ? `UPDATE OR REPLACE ${t} SET ${[...(byRowid ? [`${rowid} = ?`] : []), ...cols.map((c) => `${c} = ?`)].join(', ')} WHERE ${where}`
        : `DELETE FROM ${t} WHERE ${where}`
  return { columns, statement: db.prepare(sql) }
}

function rowidOf(db: Database.Database, table: string): string {
  const columns = db.prepare('SELECT name FROM pragma_table_xinfo(?)').pluck().all(table) as string[]
  const name = rowidName(columns)
  if (!name) throw new DrkitError(`cannot replay changes of table ${table}: its columns hide its rowid`)
  return name
}

function primaryKey(db: Database.Database, table: string, cache: Map<string, string[]>): string[] {
  let key = cache.get(table)
  if (!key) {
    const cols = db.prepare('SELECT name, pk FROM pragma_table_xinfo(?)').all(table) as { name: string; pk: number }[]
    key = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
    if (key.length === 0) {
      throw new DrkitError(`cannot replay changes of table ${table}: it has neither a rowid nor a primary key here`)
    }
    cache.set(table, key)
  }
  return key
}

function bindable(value: Value): Value {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value
}
