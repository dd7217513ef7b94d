import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { ScratchFactory, ScratchTarget } from './index.js'

/**
 * A scratch PostgreSQL database on the resource's server: a new name (`drkit_scratch_…`)
 * that the restore creates, dropped afterwards with the replication slots a drill's
 * capture left on it. The resource's credentials must be allowed to create databases.
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
  // The restore creates the database; dropping it (with its slots) is both the wipe and the clean-up.
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
      const result = await on(name, (c) => c.query({ text: sql, rowMode: 'array' }))
      const row = (result.rows as unknown[][])[0]
      return row?.[0]
    },
    wipe: drop,
    async remove() {
      if (owned) await drop()
    },
  }
}
