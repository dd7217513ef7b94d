import type Database from 'better-sqlite3'

/** Reading a database's own schema: names quoted safely, and the tables that hold application data. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * The application's ordinary tables: not SQLite's internals, not drkit's capture objects,
 * not virtual tables (their data lives in shadow tables, which are listed).
 */
export function listUserTables(db: Database.Database): string[] {
  return db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
        "AND name NOT LIKE '\\_drkit\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
    )
    .pluck()
    .all() as string[]
}

/**
 * How SQL can name a rowid table's rowid: `rowid`, unless a column has that name, then
 * `_rowid_` or `oid`; undefined when columns take all three.
 */
export function rowidName(columns: string[]): string | undefined {
  const taken = new Set(columns.map((c) => c.toLowerCase()))
  return ['rowid', '_rowid_', 'oid'].find((name) => !taken.has(name))
}
