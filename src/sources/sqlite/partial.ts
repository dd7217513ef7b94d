import { rename, rm, stat } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { PlanError } from '../../errors.js'
import type { RestoreOptions } from '../source.js'
import { quoteIdent } from './schema.js'

/** Which part of a restored database to keep: some tables, and in those that have its columns, some rows. */
export type Selection = Pick<RestoreOptions, 'tables' | 'where'>

interface Table {
  name: string
  /** Columns that take values (not generated, not a virtual table's hidden ones). */
  columns: string[]
  /** The name that reaches the rowid (a column may hide `rowid`), or undefined for WITHOUT ROWID tables. */
  rowid?: string
}

type SchemaObject = { type: string; name: string; tbl: string; sql: string }

/**
 * Replaces the restored database at path by a new one, with the same page size, encoding
 * and journal mode, that holds only the selected part. The rows (and rowids) are copied from
 * the whole restored state, so a --where with a subquery sees every row. Views are kept when
 * every table they read is kept; triggers when their table or view is, even if their body
 * names a table left out. Virtual tables are refilled through their module. Returns the new size.
 */
export async function keepPart(path: string, selection: Selection): Promise<number> {
  const part = `${path}-part`
  try {
    extract(path, part, selection)
    await rename(part, path)
  } catch (err) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(part + suffix, { force: true })
    throw err
  }
  return (await stat(path)).size
}

function extract(from: string, to: string, selection: Selection): void {
  const src = new Database(from, { fileMustExist: true })
  let dst: Database.Database | undefined
  try {
    const tables = selectTables(src, selection.tables)
    const filtered = selection.where === undefined ? new Set<string>() : applicable(src, tables, selection.where)
    const objects = src
      .prepare('SELECT type, name, tbl_name AS tbl, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid')
      .all() as SchemaObject[]
    const kept = new Set(tables.map((t) => t.name))
    dst = new Database(to)
    dst.pragma('synchronous = OFF')
    // These must be set before the first table exists.
    for (const p of ['encoding', 'page_size', 'auto_vacuum']) copyPragma(src, dst, p)
    for (const o of objects) if (o.type === 'table' && kept.has(o.name)) dst.exec(o.sql)
    copyRows(src, to, tables, filtered, selection.where)
    // Indexes and triggers come after the rows: one index build is faster, and triggers must not fire.
    for (const o of objects) if (o.type === 'index' && kept.has(o.tbl)) dst.exec(o.sql)
    for (const o of objects) if (o.type === 'view' && createView(dst, o)) kept.add(o.name)
    for (const o of objects) if (o.type === 'trigger' && kept.has(o.tbl)) dst.exec(o.sql)
    for (const p of ['user_version', 'application_id']) copyPragma(src, dst, p)
    if (src.pragma('journal_mode', { simple: true }) === 'wal') dst.pragma('journal_mode = WAL')
  } finally {
    dst?.close()
    src.close()
  }
}

/** The tables to keep, by the names the user gave (SQLite's names are case-insensitive). */
function selectTables(db: Database.Database, names: string[] | undefined): Table[] {
  // Shadow tables belong to their virtual table, which recreates them.
  const all = db
    .prepare(
      "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') " +
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all() as { name: string; wr: number }[]
  const byName = new Map(all.map((t) => [t.name.toLowerCase(), t]))
  const unknown = names?.filter((n) => !byName.has(n.toLowerCase())) ?? []
  if (unknown.length > 0) {
    throw new PlanError(
      `--tables: no table ${unknown.map((n) => `"${n}"`).join(', ')} in the restored database`,
      `Its tables are: ${all.map((t) => t.name).join(', ') || '(none)'}.`,
    )
  }
  const chosen = names ? [...new Set(names.map((n) => byName.get(n.toLowerCase())!))] : all
  return chosen.map((t) => {
    type Column = { name: string; hidden: number }
    const cols = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(t.name) as Column[]
    const taken = new Set(cols.map((c) => c.name.toLowerCase()))
    return {
      name: t.name,
      columns: cols.filter((c) => Number(c.hidden) === 0).map((c) => c.name),
      rowid: t.wr ? undefined : ['rowid', '_rowid_', 'oid'].find((r) => !taken.has(r)),
    }
  })
}

/**
 * The tables the condition applies to: those where SQLite can prepare it. "no such column"
 * means the table lacks a column it names; any other error is a condition that is wrong.
 */
function applicable(db: Database.Database, tables: Table[], where: string): Set<string> {
  const applies = new Set<string>()
  let missing = ''
  for (const t of tables) {
    try {
      db.prepare(`SELECT 1 FROM main.${quoteIdent(t.name)} WHERE (${where})`)
      applies.add(t.name)
    } catch (err) {
      const message = (err as Error).message
      if (!/^no such column/.test(message)) throw whereError(where, message)
      missing ||= message
    }
  }
  if (applies.size === 0) {
    throw new PlanError(
      `--where "${where}" names a column that none of the restored tables has (${missing})`,
      `Restored tables: ${tables.map((t) => t.name).join(', ')}. Name columns one of them has.`,
    )
  }
  return applies
}

/**
 * Copies the rows, rowids included, and the kept tables' AUTOINCREMENT counters. It runs in
 * the restored database's connection, so that a --where resolves unqualified names there.
 */
function copyRows(db: Database.Database, to: string, tables: Table[], filtered: Set<string>, where?: string): void {
  db.pragma('foreign_keys = OFF')
  db.prepare('ATTACH ? AS part').run(to)
  db.transaction(() => {
    for (const table of tables) {
      const cols = [...(table.rowid ? [table.rowid] : []), ...table.columns.map(quoteIdent)].join(', ')
      const t = quoteIdent(table.name)
      const condition = filtered.has(table.name) ? ` WHERE (${where})` : ''
      try {
        db.exec(`INSERT INTO part.${t} (${cols}) SELECT ${cols} FROM main.${t}${condition}`)
      } catch (err) {
        // A condition can also fail on a row's value (malformed JSON, …): still the condition's fault.
        if (condition && (err as { code?: string }).code === 'SQLITE_ERROR')
          throw whereError(where!, (err as Error).message)
        throw err
      }
    }
    if (db.prepare("SELECT 1 FROM part.sqlite_schema WHERE name = 'sqlite_sequence'").get()) {
      db.exec('DELETE FROM part.sqlite_sequence')
      db.exec(
        'INSERT INTO part.sqlite_sequence SELECT * FROM main.sqlite_sequence ' +
          "WHERE name IN (SELECT name FROM part.sqlite_schema WHERE type = 'table')",
      )
    }
  })()
  db.exec('DETACH part')
}

/** Creates a view and keeps it only if it reads nothing that was left out. */
function createView(db: Database.Database, view: SchemaObject): boolean {
  db.exec(view.sql)
  try {
    db.prepare(`SELECT * FROM ${quoteIdent(view.name)}`)
    return true
  } catch {
    db.exec(`DROP VIEW ${quoteIdent(view.name)}`)
    return false
  }
}

function copyPragma(from: Database.Database, to: Database.Database, name: string): void {
  const value = from.pragma(name, { simple: true })
  to.pragma(`${name} = ${typeof value === 'string' ? `'${value}'` : Number(value)}`)
}

function whereError(where: string, message: string): PlanError {
  return new PlanError(
    `--where "${where}" is not a valid condition: ${message}`,
    "Give an SQL condition such as tenant_id = 'acme'.",
  )
}
