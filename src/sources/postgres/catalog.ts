import type { PgClient } from './connect.js'
import { qualified } from './connect.js'

/** A table whose rows an image holds: a plain table or a leaf partition. */
export interface PgTable {
  schema: string
  name: string
  /** Columns a row image holds, in order: stored values only (no generated or dropped columns). */
  columns: string[]
  /** Primary key columns; empty when the table has none. */
  key: string[]
  /** Identity columns declared GENERATED ALWAYS: inserts must override them, updates leave them. */
  alwaysIdentity: string[]
  /** pg_class.relreplident: 'd' default, 'f' full, 'n' nothing, 'i' index. */
  replicaIdentity: string
  /** Unlogged tables are in snapshots but cannot be published (logical decoding does not see them). */
  unlogged: boolean
}

/** How users name a table: `name` in schema public, `schema.name` elsewhere. */
export function displayName(t: { schema: string; name: string }): string {
  return t.schema === 'public' ? t.name : `${t.schema}.${t.name}`
}

export function quotedName(t: { schema: string; name: string }): string {
  return qualified(t.schema, t.name)
}

/** Schemas that belong to the server, never to the application. */
const systemSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema', '_drkit') AND n.nspname NOT LIKE 'pg\\_%'"

/**
 * The application's tables that hold rows, in a stable order. Partitioned parents hold
 * none (their leaves do); tables that belong to extensions are restored by the extension.
 */
export async function listTables(client: PgClient): Promise<PgTable[]> {
  const { rows } = await client.query<{
    schema: string
    name: string
    columns: string[] | null
    key: string[] | null
    always: string[] | null
    replident: string
    unlogged: boolean
  }>(`
    SELECT n.nspname AS schema, c.relname AS name,
      (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
      (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
      (SELECT array_agg(a.attname::text) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attidentity = 'a' AND NOT a.attisdropped) AS always,
      c.relreplident::text AS replident, c.relpersistence = 'u' AS unlogged
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${systemSchemas}
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY n.nspname, c.relname`)
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    columns: r.columns ?? [],
    key: r.key ?? [],
    alwaysIdentity: r.always ?? [],
    replicaIdentity: r.replident,
    unlogged: r.unlogged,
  }))
}

export interface PgSequence {
  schema: string
  name: string
  lastValue: string
  isCalled: boolean
  /** The column that owns the sequence (serial, identity), as table and column. */
  owner?: { schema: string; table: string; column: string }
}

/** Every application sequence with its current value (sequences are not transactional: this is the value now). */
export async function listSequences(client: PgClient): Promise<PgSequence[]> {
  const { rows } = await client.query<{
    schema: string
    name: string
    last_value: string | null
    is_called: boolean
    oschema: string | null
    otable: string | null
    ocolumn: string | null
  }>(`
    SELECT n.nspname AS schema, c.relname AS name, s.last_value::text, s.last_value IS NOT NULL AS is_called,
      tn.nspname AS oschema, t.relname AS otable, a.attname AS ocolumn
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_sequences s ON s.schemaname = n.nspname AND s.sequencename = c.relname
    LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
    LEFT JOIN pg_class t ON t.oid = d.refobjid
    LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE c.relkind = 'S' AND ${systemSchemas}
    ORDER BY n.nspname, c.relname`)
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    lastValue: r.last_value ?? '',
    isCalled: r.is_called,
    ...(r.oschema && r.otable && r.ocolumn ? { owner: { schema: r.oschema, table: r.otable, column: r.ocolumn } } : {}),
  }))
}

/**
 * A digest of the schema as capture sees it: tables, their columns and types, keys and
 * replica identities. Capture compares it to notice DDL, which logical replication does not carry.
 */
export async function schemaDigest(client: PgClient): Promise<string> {
  const { rows } = await client.query<{ digest: string }>(`
    SELECT md5(coalesce(string_agg(line, E'\\n' ORDER BY line), '')) AS digest FROM (
      SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || c.relreplident::text || ':' ||
        coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attgenerated::text,
          ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ':' ||
        coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ';' ORDER BY pg_get_indexdef(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid), '') AS line
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${systemSchemas}
      UNION ALL
      SELECT 'type ' || n.nspname || '.' || t.typname || ':' || t.typtype::text || ':' ||
        coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype IN ('e', 'd', 'c', 'r') AND ${systemSchemas}
    ) lines`)
  return rows[0]!.digest
}
