import type { Row } from '../../../model.js'
import type { LiveTable } from '../../source.js'
import { displayName, listTables, type PgTable, quotedName } from '../catalog.js'
import { ident, type PgClient } from '../connect.js'

/** A live table as diff and undo see it, with what writing its rows back needs. */
export interface RowTable extends LiveTable {
  pg: PgTable
  /** The quoted, schema-qualified name. */
  sql: string
  /** Whether the key is every column (a table without a primary key or replica identity index). */
  wholeRow: boolean
  /** Each column's type, as SQL names it (`numeric(30,10)`, `mood[]`). */
  types: Map<string, string>
}

/**
 * The application's tables by the name capture records for them. A row is identified by
 * its primary key, else by its replica identity index, else by all its columns (a table
 * with REPLICA IDENTITY FULL: capture logs whole old rows for it).
 */
export async function describeTables(client: PgClient): Promise<Map<string, RowTable>> {
  const tables = await listTables(client)
  const { rows } = await client.query<{ schema: string; name: string; columns: string[] }>(`
    SELECT n.nspname AS schema, c.relname AS name,
      array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) AS columns
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indisreplident GROUP BY n.nspname, c.relname`)
  const identityIndex = new Map(rows.map((r) => [`${r.schema}\0${r.name}`, r.columns]))
  const typed = await client.query<{ schema: string; name: string; column: string; type: string }>(`
    SELECT n.nspname AS schema, c.relname AS name, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_drkit') AND n.nspname NOT LIKE 'pg\\_%'`)
  const types = new Map<string, Map<string, string>>()
  for (const t of typed.rows) {
    const id = `${t.schema}\0${t.name}`
    types.set(id, (types.get(id) ?? new Map()).set(t.column, t.type))
  }
  return new Map(
    tables.map((pg) => {
      const index = pg.replicaIdentity === 'i' ? identityIndex.get(`${pg.schema}\0${pg.name}`) : undefined
      const key = pg.key.length > 0 ? pg.key : (index ?? pg.columns)
      const table: RowTable = {
        name: displayName(pg),
        columns: pg.columns,
        key,
        byRowid: false,
        pg,
        sql: quotedName(pg),
        wholeRow: pg.key.length === 0 && !index,
        types: types.get(`${pg.schema}\0${pg.name}`) ?? new Map(),
      }
      return [table.name, table]
    }),
  )
}

/**
 * A condition that finds the first row of a table keyed by all its columns (identical rows
 * cannot be told apart), parameters from `first` on. Each column's text form is compared:
 * some types (json, point) have no equality.
 */
export function firstMatch(table: RowTable, key: Row, first: number): { sql: string; values: unknown[] } {
  const values: unknown[] = []
  const compare = (k: string) => {
    const v = key[k] ?? null
    if (v === null) return `${ident(k)} IS NULL`
    values.push(v)
    return `format('%s', ${ident(k)}) = $${first + values.length - 1}::text`
  }
  const match = table.key.map(compare).join(' AND ') || 'true'
  return { sql: `ctid = (SELECT ctid FROM ${table.sql} WHERE ${match} LIMIT 1)`, values }
}

/** Query results as the values' text forms, exactly as capture records them. */
export const asText = { getTypeParser: () => (value: string) => value }
