import { PlanError } from '../../errors.js'
import type { RestoreOptions } from '../source.js'
import { displayName, listTables, quotedName } from './catalog.js'
import type { PgClient } from './connect.js'

/**
 * Cuts the selected part out of a whole restored database: tables not asked for are
 * dropped (with what depends on them: views, foreign keys), and in every kept table that
 * has the columns `where` names, rows that do not match are deleted. The condition is
 * evaluated on the whole restored state, so a subquery in it sees every row.
 */
export async function keepPart(client: PgClient, opts: Pick<RestoreOptions, 'tables' | 'where'>): Promise<void> {
  const all = await listTables(client)
  const names = all.map(displayName)
  const wanted = opts.tables ?? names
  const missing = wanted.filter((t) => !names.includes(t))
  if (missing.length > 0) {
    throw new PlanError(`--tables: the snapshot has no table ${missing.join(', ')}`, `Its tables: ${names.join(', ')}.`)
  }
  const kept = all.filter((t) => wanted.includes(displayName(t)))
  await client.query('SET session_replication_role = replica').catch(() => {})
  await client.query('BEGIN')
  try {
    const dropped = all.filter((t) => !kept.includes(t))
    if (dropped.length > 0) await client.query(`DROP TABLE ${dropped.map(quotedName).join(', ')} CASCADE`)
    if (opts.where !== undefined) {
      let filtered = 0
      for (const t of kept) {
        await client.query('SAVEPOINT part')
        try {
          await client.query(`DELETE FROM ${quotedName(t)} WHERE NOT coalesce((${opts.where}), false)`)
          filtered++
        } catch (err) {
          await client.query('ROLLBACK TO SAVEPOINT part')
          // 42703: the table lacks a column the condition names; it is restored whole.
          if ((err as { code?: string }).code !== '42703') {
            throw new PlanError(`--where: ${(err as Error).message}`, 'Give an SQL condition over the tables’ columns.')
          }
        }
      }
      if (filtered === 0 && kept.length > 0) {
        throw new PlanError('--where names columns that none of the restored tables has')
      }
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}
