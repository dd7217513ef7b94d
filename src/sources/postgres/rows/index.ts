/**
 * The rows of a live PostgreSQL database by identity, for diff and undo (LiveRows): tables
 * and their keys (tables.ts), conditions on row images (match.ts), writes in an order
 * foreign keys accept (references.ts, writes.ts), and rows found in a stored snapshot
 * (stored.ts, copy-text.ts). It never reads the repository itself: ops/ hands it images.
 */
import { DrkitError, InternalError } from '../../../errors.js'
import type { Row } from '../../../model.js'
import type { LiveRows, RowKey } from '../../source.js'
import { connect, ident, type PgClient } from '../connect.js'
import { matchImages } from './match.js'
import { foreignKeyOrder, loadForeignKeys } from './references.js'
import { storedRows } from './stored.js'
import { asText, describeTables, firstMatch, type RowTable } from './tables.js'
import { applyWrites } from './writes.js'

/**
 * Rows of a live PostgreSQL database by identity (see row-tables.ts), as text forms:
 * the values capture records. Writes send text parameters of unknown type, so the server
 * reads each with its column's own input function (numeric, jsonb, bytea, arrays, enums,
 * ranges, timestamptz come back exactly); generated columns are never written, identity
 * columns are (OVERRIDING SYSTEM VALUE). Writes are ordinary writes of the application:
 * its triggers fire, and capture records them.
 */
export function openPostgresRows(url: string, resource: string): LiveRows & { close(): Promise<void> } {
  let client: Promise<PgClient> | undefined
  const db = () => {
    client ??= connect(url, resource)
    return client
  }
  const readAll = async (c: PgClient, tables: Map<string, RowTable>, keys: RowKey[], lock: boolean) => {
    const found: (Row | null)[] = keys.map(() => null)
    const byTable = new Map<string, number[]>()
    keys.forEach(({ table }, i) => {
      const list = byTable.get(table)
      if (list) list.push(i)
      else byTable.set(table, [i])
    })
    for (const [name, indexes] of byTable) {
      const t = tables.get(name)
      if (!t) throw new DrkitError(`${resource} no longer has table ${name}`)
      if (t.wholeRow) {
        for (const i of indexes) found[i] = await readOne(c, t, keys[i]!.key, lock)
        continue
      }
      for (let from = 0; from < indexes.length; from += readBatch) {
        const batch = indexes.slice(from, from + readBatch)
        for (const [i, row] of await readMany(
          c,
          t,
          batch.map((i) => keys[i]!.key),
          lock,
        ))
          found[batch[i]!] = row
      }
    }
    return found
  }
  return {
    async tables() {
      return [...(await describeTables(await db())).values()].map(({ name, columns, key, byRowid }) => ({
        name,
        columns,
        key,
        byRowid,
      }))
    },
    async match(where, scope, images) {
      const c = await db()
      return matchImages(c, await describeTables(c), where, scope, images)
    },
    async read(keys) {
      const c = await db()
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      try {
        return await readAll(c, await describeTables(c), keys, false)
      } finally {
        await c.query('COMMIT').catch(() => {})
      }
    },
    async write(keys, decide) {
      const c = await db()
      await c.query('BEGIN')
      try {
        const tables = await describeTables(c)
        // Rows read FOR UPDATE: no other writer changes them before the writes below.
        const current = await readAll(c, tables, keys, true)
        const writes = decide(current)
        // Writes carry the key objects they were decided for.
        const live = new Map(keys.map((k, i) => [k.key, current[i] ?? null]))
        await c.query('SET CONSTRAINTS ALL DEFERRED')
        const references = await loadForeignKeys(c, tables)
        await applyWrites(c, tables, references, foreignKeyOrder(references, writes), live)
        await c.query('COMMIT')
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {})
        if (err instanceof InternalError) throw err
        const reason = err instanceof Error ? err.message : String(err)
        const hint = err instanceof DrkitError ? err.hint : undefined
        throw new DrkitError(`the write to ${resource} failed and changed nothing: ${reason}`, hint, { cause: err })
      }
    },
    storedRows: (image, keys) => storedRows(image, keys),
    async close() {
      const c = await client?.catch(() => undefined)
      await c?.end().catch(() => {})
    },
  }
}

/** Keys looked up per query. */
const readBatch = 1000

/** The first row with a whole-row key (identical rows cannot be told apart). */
async function readOne(c: PgClient, t: RowTable, key: Row, lock: boolean): Promise<Row | null> {
  const where = firstMatch(t, key, 1)
  const { rows } = await c.query<Row>({
    text: `SELECT ${t.columns.map(ident).join(', ')} FROM ${t.sql} WHERE ${where.sql}${lock ? ' FOR UPDATE' : ''}`,
    values: where.values,
    types: asText,
  })
  return rows[0] ?? null
}

/** Rows by primary key (or replica identity index), many in one query: each found row with its key's position. */
async function readMany(c: PgClient, t: RowTable, keys: Row[], lock: boolean): Promise<[number, Row][]> {
  const names = t.key.map((_, j) => `_drkit_k${j}`)
  const join = t.key.map((k, j) => `r.${ident(k)} = k.${names[j]}::${t.types.get(k)}`).join(' AND ')
  const { rows } = await c.query<unknown[]>({
    text:
      `SELECT k._drkit_i::int, ${t.columns.map((col) => `r.${ident(col)}`).join(', ')} ` +
      `FROM unnest(${names.map((_, j) => `$${j + 1}::text[]`).join(', ')}) WITH ORDINALITY AS k(${names.join(', ')}, _drkit_i) ` +
      `JOIN ${t.sql} r ON ${join}${lock ? ' FOR UPDATE OF r' : ''}`,
    values: t.key.map((k) => keys.map((key) => key[k] ?? null)),
    rowMode: 'array',
    types: asText,
  })
  return rows.map(([i, ...values]) => [
    Number(i) - 1,
    Object.fromEntries(t.columns.map((col, j) => [col, values[j] as string | null])),
  ])
}
