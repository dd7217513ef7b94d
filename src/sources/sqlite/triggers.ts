import type Database from 'better-sqlite3'
import { quoteIdent, rowidName } from './schema.js'

/**
 * The SQL that capture installs: a changelog table with generic value columns, and for
 * every captured table three AFTER triggers that copy the row images into it. Values
 * are stored natively, so every type survives exactly. The trigger bodies use only SQL
 * that every SQLite release an application may run has (no unixepoch, no RETURNING).
 */
export const changelog = '_drkit_changes'
export const captureInfo = '_drkit_capture'
export const objectPrefix = '_drkit_'

export interface CapturedTable {
  name: string
  columns: string[]
  /** Rowid tables are identified by rowid; WITHOUT ROWID tables by their primary key. */
  rowid: boolean
  /** How SQL names the rowid when a column is called `rowid` (see rowidName). */
  rowidName?: string
}

/** Tables capture can cover, and the ones it cannot (virtual tables and their shadow tables). */
export function describeTables(db: Database.Database): { tables: CapturedTable[]; skipped: string[] } {
  const rows = db
    .prepare(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
        "AND name NOT LIKE '\\_drkit\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all() as { name: string; sql: string }[]
  const virtual = rows.filter((r) => /^CREATE\s+VIRTUAL/i.test(r.sql)).map((r) => r.name)
  const tables: CapturedTable[] = []
  const skipped: string[] = [...virtual]
  for (const { name, sql } of rows) {
    if (virtual.includes(name)) continue
    // Shadow tables of a virtual table (fts5's x_data, …) refuse triggers.
    if (virtual.some((v) => name.startsWith(`${v}_`))) {
      skipped.push(name)
      continue
    }
    const info = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(name) as {
      name: string
      hidden: number
    }[]
    const columns = info.filter((c) => Number(c.hidden) === 0).map((c) => c.name)
    const rowid = !/WITHOUT\s+ROWID\s*$/i.test(sql.trim())
    const alias = rowidName(info.map((c) => c.name))
    if (rowid && !alias) {
      skipped.push(name)
      continue
    }
    tables.push({ name, columns, rowid, ...(rowid ? { rowidName: alias } : {}) })
  }
  return { tables, skipped }
}

/**
 * The changelog, and its anchor row: the newest stored change stays in it (a row with
 * seq 0 before the first), so new changes always number on from it without AUTOINCREMENT
 * (whose counter update in every write costs more than a third of a single-row update),
 * and a changelog emptied by hand is told apart from one with nothing new: the anchor is gone.
 */
export function changelogSql(width: number): string[] {
  const values = Array.from({ length: width }, (_, i) => `o${i}, n${i}`).join(', ')
  return [
    `CREATE TABLE ${changelog} (seq INTEGER PRIMARY KEY, time REAL NOT NULL, ` +
      `tbl TEXT NOT NULL, op TEXT NOT NULL, old_rowid, new_rowid${width > 0 ? `, ${values}` : ''})`,
    `INSERT INTO ${changelog} (seq, time, tbl, op) VALUES (0, julianday('now'), '', 'anchor')`,
  ]
}

/** The newest change recorded (0 before the first). */
export const newestSeqSql = `SELECT coalesce(max(seq), 0) FROM ${changelog}`

export function triggerSql(table: CapturedTable): string[] {
  const t = quoteIdent(table.name)
  const literal = `'${table.name.replaceAll("'", "''")}'`
  const image = (prefix: 'OLD' | 'NEW') => table.columns.map((c) => `${prefix}.${quoteIdent(c)}`)
  const slots = (letter: 'o' | 'n') => table.columns.map((_, i) => `${letter}${i}`)
  const rowid = (prefix: 'OLD' | 'NEW') => (table.rowid ? `${prefix}.${table.rowidName ?? 'rowid'}` : 'NULL')
  const insert = (op: string, cols: string[], values: string[]) =>
    `INSERT INTO ${changelog} (time, tbl, op, ${cols.join(', ')}) VALUES (julianday('now'), ${literal}, '${op}', ${values.join(', ')});`
  const name = (op: string) => quoteIdent(`${objectPrefix}${op}_${table.name}`)
  return [
    `CREATE TRIGGER ${name('i')} AFTER INSERT ON ${t} BEGIN ` +
      `${insert('i', ['new_rowid', ...slots('n')], [rowid('NEW'), ...image('NEW')])} END`,
    `CREATE TRIGGER ${name('u')} AFTER UPDATE ON ${t} BEGIN ` +
      `${insert('u', ['old_rowid', 'new_rowid', ...slots('o'), ...slots('n')], [rowid('OLD'), rowid('NEW'), ...image('OLD'), ...image('NEW')])} END`,
    `CREATE TRIGGER ${name('d')} AFTER DELETE ON ${t} BEGIN ` +
      `${insert('d', ['old_rowid', ...slots('o')], [rowid('OLD'), ...image('OLD')])} END`,
  ]
}

/** Drops every object capture installed (triggers first: they name the changelog). */
export function dropCaptureObjects(db: Database.Database): void {
  const objects = db
    .prepare(
      "SELECT type, name FROM sqlite_schema WHERE name LIKE '\\_drkit\\_%' ESCAPE '\\' AND type IN ('trigger', 'table')",
    )
    .all() as { type: string; name: string }[]
  objects.sort((a, b) => (a.type === b.type ? 0 : a.type === 'trigger' ? -1 : 1))
  for (const o of objects) db.exec(`DROP ${o.type === 'trigger' ? 'TRIGGER' : 'TABLE'} IF EXISTS ${quoteIdent(o.name)}`)
}
