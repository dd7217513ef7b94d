import { PlanError } from '../../../errors.js'
import type { Row } from '../../../model.js'
import type { RowMatch } from '../../source.js'
import { ident, literal, type PgClient } from '../connect.js'
import type { RowTable } from './tables.js'

/**
 * Evaluates `where` on row images, not on the tables: each table's images go to the
 * server as one JSON array and come back as rows of the table's column types (each text
 * form read by its type's input), inside a read-only transaction that is rolled back.
 */
export async function matchImages(
  c: PgClient,
  tables: Map<string, RowTable>,
  where: string,
  scope: string[],
  images: { table: string; row: Row }[],
): Promise<RowMatch> {
  const matches = images.map(() => false)
  const unfiltered: string[] = []
  let missing = ''
  for (const name of scope) {
    const table = tables.get(name)!
    const mine = images.flatMap((image, i) => (image.table === name ? [i] : []))
    const columns = table.columns.map(
      (col) => `(e._drkit_d->>${literal(col)})::${table.types.get(col)} AS ${ident(col)}`,
    )
    // Generated columns are not in images: computed here from the stored ones, as the table would.
    const generated = await generatedColumns(c, table)
    const stored = `SELECT ${columns.join(', ')}`
    const row = generated.length > 0 ? `SELECT *, ${generated.join(', ')} FROM (${stored}) s` : stored
    const sql = `SELECT e._drkit_o::int AS o
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(_drkit_d, _drkit_o),
      LATERAL (${row}) AS ${ident(table.pg.name)} WHERE (${where})`
    await c.query('BEGIN READ ONLY')
    try {
      const { rows } = await c.query<{ o: number }>(sql, [JSON.stringify(mine.map((i) => images[i]!.row))])
      for (const { o } of rows) matches[mine[o - 1]!] = true
    } catch (err) {
      const { code, message } = err as { code?: string; message: string }
      if (code === '42703') {
        unfiltered.push(name)
        missing = message
        for (const i of mine) matches[i] = true
        continue
      }
      if (code?.startsWith('42')) {
        throw new PlanError(
          `--where "${where}" is not a condition on a row's columns: ${message}`,
          "Write a condition over the row's own columns, such as tenant_id = 'acme' (text in single quotes).",
        )
      }
      throw new PlanError(`--where "${where}" fails on a row of ${name}: ${message}`)
    } finally {
      await c.query('ROLLBACK').catch(() => {})
    }
  }
  if (scope.length > 0 && unfiltered.length === scope.length) {
    throw new PlanError(
      `--where "${where}" names columns that none of the tables ${scope.join(', ')} has (${missing})`,
      "Check the column names, and quote text with single quotes: tenant_id = 'acme'.",
    )
  }
  return { matches, unfiltered }
}

async function generatedColumns(c: PgClient, table: RowTable): Promise<string[]> {
  const { rows } = await c.query<{ name: string; expr: string }>(
    `SELECT a.attname AS name, pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a
      JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attgenerated = 's' AND NOT a.attisdropped ORDER BY a.attnum`,
    [table.sql],
  )
  return rows.map((r) => `(${r.expr}) AS ${ident(r.name)}`)
}
