import Database from 'better-sqlite3'
import { DrkitError, InternalError, PlanError } from '../../errors.js'
import type { Row, Value } from '../../model.js'
import type { LiveRows, LiveTable, RowKey, RowWrite } from '../source.js'
import { listUserTables, quoteIdent, rowidName } from './schema.js'

interface Column {
  name: string
  type: string
}

interface Connection {
  db: Database.Database
  /** Prepared once per connection. */
  prepare(sql: string): Database.Statement
}

/**
 * Rows of a live SQLite database by identity: rowid, or the primary key of a WITHOUT
 * ROWID table. The connection is opened on first use, after `check` (a missing file or
 * one that is not a database is a clear error, before SQLite says less).
 */
export function openSqliteRows(
  path: string,
  opts: { resource: string; busyTimeoutMs: number; check: () => Promise<void> },
): LiveRows & { close(): void } {
  let connection: Connection | undefined
  const open = async (): Promise<Connection> => {
    if (!connection) {
      await opts.check()
      const db = new Database(path, { fileMustExist: true, timeout: opts.busyTimeoutMs })
      db.defaultSafeIntegers(true)
      // Undo writes every row itself: cascades would repeat changes that capture recorded.
      db.pragma('foreign_keys = OFF')
      const statements = new Map<string, Database.Statement>()
      connection = { db, prepare: (sql) => statements.get(sql) ?? statements.set(sql, db.prepare(sql)).get(sql)! }
    }
    return connection
  }
  const readAll = ({ db, prepare }: Connection, keys: RowKey[]) => {
    const tables = new Map(describe(db).map((t) => [t.name, t]))
    return keys.map(({ table, key }) => {
      const t = tables.get(table)
      if (!t) throw new DrkitError(`${opts.resource} no longer has table ${table}`)
      const columns = t.columns.map(quoteIdent).join(', ')
      const statement = prepare(`SELECT ${columns} FROM ${quoteIdent(table)} WHERE ${keyMatch(t)}`)
      return (statement.get(...t.key.map((k) => bindable(key[k] ?? null))) as Row | undefined) ?? null
    })
  }
  return {
    async tables() {
      return describe((await open()).db)
    },
    async match(where, scope, images) {
      const { db } = await open()
      return matchImages(where, new Map(scope.map((t) => [t, columnsOf(db, t)])), images)
    },
    async read(keys) {
      const c = await open()
      return c.db.transaction(() => readAll(c, keys))()
    },
    async write(keys, decide) {
      const c = await open()
      try {
        c.db
          .transaction(() => {
            const writes = decide(readAll(c, keys))
            const checked = referencingTables(c.db, new Set(writes.map((w) => w.table)))
            const dangling = foreignKeyViolations(c.db, checked)
            const tables = new Map(describe(c.db).map((t) => [t.name, t]))
            for (const w of writes) apply(c.prepare, tables.get(w.table)!, w)
            const added = [...foreignKeyViolations(c.db, checked)].find(([k, n]) => n > (dangling.get(k) ?? 0))
            if (added) {
              throw new DrkitError(
                `it would leave rows of ${added[0].split('\u0000')[0]} referring to rows that do not exist`,
                'Leave the referring rows out, or include the rows they refer to (--tables, --where).',
              )
            }
          })
          .immediate()
      } catch (err) {
        if (err instanceof InternalError) throw err
        const reason = err instanceof Error ? err.message : String(err)
        const hint = err instanceof DrkitError ? err.hint : undefined
        throw new DrkitError(`the write to ${opts.resource} failed and changed nothing: ${reason}`, hint, {
          cause: err,
        })
      }
    },
    close() {
      connection?.db.close()
    },
  }
}

function describe(db: Database.Database): LiveTable[] {
  const withoutRowid = new Set(
    db.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr = 1").pluck().all() as string[],
  )
  return listUserTables(db).map((name) => {
    const info = db.prepare('SELECT name, pk, hidden FROM pragma_table_xinfo(?)').all(name) as {
      name: string
      pk: bigint
      hidden: bigint
    }[]
    const key = withoutRowid.has(name)
      ? info
          .filter((c) => c.pk > 0n)
          .sort((a, b) => Number(a.pk - b.pk))
          .map((c) => c.name)
      : ['rowid']
    const byRowid = !withoutRowid.has(name)
    return { name, columns: info.filter((c) => c.hidden === 0n).map((c) => c.name), key, byRowid }
  })
}

function columnsOf(db: Database.Database, table: string): Column[] {
  const info = db.prepare('SELECT name, type, hidden FROM pragma_table_xinfo(?)').all(table) as (Column & {
    hidden: bigint
  })[]
  return info.filter((c) => c.hidden === 0n).map(({ name, type }) => ({ name, type }))
}

/**
 * Evaluates the condition on copies of the images, in an in-memory table per table with
 * the same column types (so comparisons convert values as they would in the database),
 * never on the database itself.
 */
function matchImages(where: string, scope: Map<string, Column[]>, images: { table: string; row: Row }[]) {
  const mem = new Database(':memory:')
  try {
    const queries = new Map<string, Database.Statement>()
    const unfiltered: string[] = []
    let missing = ''
    for (const [table, columns] of scope) {
      const t = quoteIdent(table)
      mem.exec(`CREATE TABLE ${t} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`)
      try {
        queries.set(table, mem.prepare(`SELECT rowid FROM ${t} WHERE (${where})`).pluck())
      } catch (err) {
        const message = (err as Error).message
        if (!message.startsWith('no such column')) {
          throw new PlanError(
            `--where "${where}" is not a condition on a row's columns: ${message}`,
            "Write a condition over the row's own columns, such as tenant_id = 'acme' (text in single quotes).",
          )
        }
        unfiltered.push(table)
        missing = message
      }
    }
    if (queries.size === 0) {
      throw new PlanError(
        `--where "${where}" names columns that none of the tables ${[...scope.keys()].join(', ')} has (${missing})`,
        "Check the column names, and quote text with single quotes: tenant_id = 'acme'.",
      )
    }
    const matches = images.map((image) => !queries.has(image.table))
    for (const [table, query] of queries) {
      const columns = scope.get(table)!.map((c) => c.name)
      const insert = mem.prepare(
        `INSERT INTO ${quoteIdent(table)} (rowid, ${columns.map(quoteIdent).join(', ')}) ` +
          `VALUES (?${', ?'.repeat(columns.length)})`,
      )
      images.forEach((image, i) => {
        if (image.table === table) insert.run(i + 1, ...columns.map((c) => bindable(image.row[c] ?? null)))
      })
      let found: number[]
      try {
        found = query.all() as number[]
      } catch (err) {
        throw new PlanError(`--where "${where}" fails on a row of ${table}: ${(err as Error).message}`)
      }
      for (const rowid of found) matches[rowid - 1] = true
    }
    return { matches, unfiltered }
  } finally {
    mem.close()
  }
}

/** The key's columns as SQL; the `rowid` key is named as the table lets SQL name it. */
function keySql(table: LiveTable, k: string): string {
  return table.byRowid ? (rowidName(table.columns) ?? 'rowid') : quoteIdent(k)
}

function keyMatch(table: LiveTable): string {
  return table.key.map((k) => `${keySql(table, k)} = ?`).join(' AND ')
}

function apply(prepare: (sql: string) => Database.Statement, table: LiveTable, w: RowWrite): void {
  const t = quoteIdent(table.name)
  const keyValues = table.key.map((k) => bindable(w.key[k] ?? null))
  if (w.op === 'delete') {
    prepare(`DELETE FROM ${t} WHERE ${keyMatch(table)}`).run(...keyValues)
    return
  }
  const columns = Object.keys(w.row)
  const values = columns.map((c) => bindable(w.row[c] ?? null))
  if (w.op === 'update') {
    const set = columns.map((c) => `${quoteIdent(c)} = ?`).join(', ')
    prepare(`UPDATE ${t} SET ${set} WHERE ${keyMatch(table)}`).run(...values, ...keyValues)
    return
  }
  // A rowid table's row goes back under its own rowid, which other rows may refer to.
  const rowid = table.byRowid ? [keySql(table, 'rowid')] : []
  const names = [...rowid, ...columns.map(quoteIdent)].join(', ')
  const params = [...(rowid.length > 0 ? keyValues : []), ...values]
  prepare(`INSERT INTO ${t} (${names}) VALUES (${params.map(() => '?').join(', ')})`).run(...params)
}

/** Tables whose references a write to `touched` could break: the touched ones, and those referring to them. */
function referencingTables(db: Database.Database, touched: Set<string>): string[] {
  const lower = new Set([...touched].map((t) => t.toLowerCase()))
  return listUserTables(db).filter((table) => {
    const parents = db.prepare('SELECT "table" FROM pragma_foreign_key_list(?)').pluck().all(table) as string[]
    return parents.length > 0 && (touched.has(table) || parents.some((p) => lower.has(p.toLowerCase())))
  })
}

/** Dangling references in these tables, counted per referring row and foreign key. */
function foreignKeyViolations(db: Database.Database, tables: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const table of tables) {
    for (const v of db.pragma(`foreign_key_check(${quoteIdent(table)})`) as Record<string, Value>[]) {
      const k = [v.table, v.rowid, v.parent, v.fkid].join('\u0000')
      counts.set(k, (counts.get(k) ?? 0) + 1)
    }
  }
  return counts
}

function bindable(value: Value): Value {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value
}
