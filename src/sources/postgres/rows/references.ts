import { DrkitError } from '../../../errors.js'
import type { RowWrite } from '../../source.js'
import { ident, type PgClient, qualified } from '../connect.js'
import type { RowTable } from './tables.js'

/** A foreign key between two of the application's tables, by their names as capture records them. */
export interface ForeignKey {
  child: RowTable
  parent: RowTable
  childColumns: string[]
  parentColumns: string[]
}

export async function loadForeignKeys(c: PgClient, tables: Map<string, RowTable>): Promise<ForeignKey[]> {
  const bySql = new Map([...tables.values()].map((t) => [t.sql, t]))
  const { rows } = await c.query<{ cs: string; cn: string; ps: string; pn: string; cc: string[]; pc: string[] }>(`
    SELECT cn.nspname AS cs, cc.relname AS cn, pn.nspname AS ps, pc.relname AS pn,
      (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(f.conkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n) AS cc,
      (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(f.confkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n) AS pc
    FROM pg_constraint f
    JOIN pg_class cc ON cc.oid = f.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
    JOIN pg_class pc ON pc.oid = f.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
    WHERE f.contype = 'f'`)
  return rows.flatMap((r) => {
    const child = bySql.get(qualified(r.cs, r.cn))
    const parent = bySql.get(qualified(r.ps, r.pn))
    return child && parent ? [{ child, parent, childColumns: r.cc, parentColumns: r.pc }] : []
  })
}

/**
 * The writes in an order foreign keys accept without being deferrable: deletes of
 * referring tables before those of the tables they refer to, inserts the other way round,
 * updates in between. Within a table the order given is kept.
 */
export function foreignKeyOrder(keys: ForeignKey[], writes: RowWrite[]): RowWrite[] {
  const depth = new Map<string, number>()
  // A table's depth: the longest chain of references below it (a cycle is cut where it closes).
  const of = (table: string, path: Set<string>): number => {
    const known = depth.get(table)
    if (known !== undefined) return known
    const parents = keys.filter((k) => k.child.name === table && !path.has(k.parent.name))
    const inner = new Set([...path, table])
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((k) => of(k.parent.name, inner)))
    depth.set(table, d)
    return d
  }
  const rank = (w: RowWrite) => {
    const d = of(w.table, new Set([w.table]))
    return w.op === 'delete' ? -1_000_000 - d : w.op === 'update' ? 0 : 1_000_000 + d
  }
  return writes
    .map((w, i) => ({ w, i, r: rank(w) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.w)
}

/**
 * Undo runs no foreign key actions: deleting rows that other rows still refer to would
 * cascade to them (or set them null), so it is refused instead, like a dangling reference.
 * `rows` names the rows about to be deleted: a FROM item and a condition tying it to the
 * table, aliased `r`.
 */
export async function checkReferences(
  c: PgClient,
  keys: ForeignKey[],
  table: RowTable,
  rows: { source: string; values: unknown[]; byKey: string },
): Promise<void> {
  for (const fk of keys) {
    if (fk.parent !== table) continue
    const pairs = fk.childColumns.map((col, i) => `ch.${ident(col)} = r.${ident(fk.parentColumns[i]!)}`)
    const found = await c.query(
      `SELECT 1 FROM ${table.sql} r, ${rows.source}, ${fk.child.sql} ch WHERE ${rows.byKey} AND ${pairs.join(' AND ')} LIMIT 1`,
      rows.values,
    )
    if (found.rows.length > 0) {
      throw new DrkitError(
        `it would leave rows of ${fk.child.name} referring to rows that do not exist`,
        'Leave the referring rows out, or include the rows they refer to (--tables, --where).',
      )
    }
  }
}
