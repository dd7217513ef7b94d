import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { ScratchFactory, ScratchTarget } from './index.js'

/**
 * A scratch PostgreSQL database on the resource's server: a new name (`drkit_scratch_…`)
 * that the restore creates, dropped afterwards with the replication slots a drill's
 * capture left on it; a wipe empties its application tables and leaves it standing. The resource's credentials must be allowed to create databases.
 */
export const postgresScratch: ScratchFactory = {
  sql: true,
  async create(resource, opts) {
    const config = resource.config as { url: string }
    if (opts.given) return target(opts.given, config, true)
    const url = new URL(config.url)
    const label = opts.label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .slice(0, 30)
    url.pathname = `/drkit_scratch_${label}_${randomBytes(4).toString('hex')}`
    return target(url.toString(), config, true)
  },
  async existing(resource) {
    const config = resource.config as { url: string }
    return target(config.url, config, false)
  },
}

function target(url: string, config: { url: string }, owned: boolean): ScratchTarget {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  /** Runs fn on a connection to `database` of the target's server. */
  const on = async <T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const at = new URL(url)
    at.pathname = `/${encodeURIComponent(database)}`
    const client = new pg.Client({ connectionString: at.toString(), application_name: 'drkit' })
    client.on('error', () => undefined)
    await client.connect()
    try {
      return await fn(client)
    } finally {
      await client.end().catch(() => undefined)
    }
  }
  // The restore creates the database; dropping it (with its slots) is the clean-up.
  const drop = () =>
    on('postgres', async (c) => {
      await c.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active',
        [name],
      )
      await c.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`)
    })
  return {
    target: url,
    config: { ...config, url },
    async query(sql) {
      const result: pg.QueryResult | pg.QueryResult[] = await on(name, (c) => c.query({ text: sql, rowMode: 'array' }))
      // Several statements in one string give one result each: the last one answers.
      const last = Array.isArray(result) ? result.at(-1) : result
      const row = (last?.rows as unknown[][] | undefined)?.[0]
      return row?.[0]
    },
    // Every application table emptied in one statement: the database stays, with capture in it (a drill's fault).
    async wipe() {
      await on(name, async (c) => {
        const { rows } = await c.query<{ t: string }>(
          `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_drkit') AND n.nspname NOT LIKE 'pg\\_%'`,
        )
        if (rows.length > 0) await c.query(`TRUNCATE ${rows.map((r) => r.t).join(', ')}`)
      })
    },
    async remove() {
      if (owned) await drop()
    },
  }
}
