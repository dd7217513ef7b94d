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
