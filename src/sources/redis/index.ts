/**
 * The Redis source: SCAN-based images of one logical database (every type, with TTLs),
 * restores into another database, and fingerprints to compare states. See docs/REDIS.md.
 */
import type { Redis } from 'ioredis'
import { z } from 'zod'
import { PlanError } from '../../errors.js'
import type { Source, SourceDefinition } from '../source.js'
import { connectRedis, parseRedisUrl, targetUrl } from './client.js'
import { fingerprintRedis } from './fingerprint.js'
import { RawConnection } from './raw.js'
import { restoreRedis } from './restore.js'
import { snapshotRedis } from './snapshot.js'

export const redisConfig = z
  .object({
    /** redis://[user:password@]host:port/db (rediss:// for TLS). */
    url: z.string().min(1),
    /** Key patterns (SCAN MATCH globs); every key when absent. */
    keys: z.array(z.string().min(1)).min(1).optional(),
    /**
     * How snapshots hold values: `dump`, the server's DUMP payloads (fast and exact, restore into
     * the same or a newer Redis), or `portable` records (restore into any version; needed by export).
     */
    form: z.enum(['dump', 'portable']).default('dump'),
  })
  .strict()

export type RedisConfig = z.infer<typeof redisConfig>

export const redis: SourceDefinition<RedisConfig> = {
  type: 'redis',
  configSchema: redisConfig,
  async open(config, ctx) {
    const address = parseRedisUrl(config.url, ctx.resource)
    let client: Promise<Redis> | undefined
    /** The bare connection dump-form snapshots read with (raw.ts). */
    let raw: RawConnection | undefined
    const live = () => {
      client ??= connectRedis(address, ctx.resource)
      return client
    }
    /** Runs fn with a client for another database, closed afterwards. */
    const withTarget = async <T>(target: string, fn: (c: Redis, a: typeof address) => Promise<T>, writes = true) => {
      const to = parseRedisUrl(targetUrl(target), 'the restore target')
      if (writes && to.host === address.host && to.port === address.port && to.db === address.db) {
        throw new PlanError(
          `the restore target ${to.label} is the live database of ${ctx.resource} itself`,
          'Restore into another database number (e.g. /5), check it, then switch the application over.',
        )
      }
      const c = await connectRedis(to, 'the restore target')
      try {
        return await fn(c, to)
      } finally {
        await c.quit().catch(() => c.disconnect())
      }
    }
    const source: Source = {
      capabilities: { capture: false, partialRestore: 'keys', exactTransactionBoundaries: false },
      async snapshot() {
        const c = await live()
        if (config.form === 'portable') return snapshotRedis(c, address, config.keys)
        raw ??= await RawConnection.open(address, ctx.resource)
        return snapshotRedis(c, address, config.keys, raw)
      },
      restore(image, target, opts = {}) {
        if (opts.where !== undefined) throw new PlanError('--where does not apply to Redis; select keys with --keys')
        if (opts.changes) throw new PlanError('Redis has no change capture: restore a snapshot')
        return withTarget(target, async (c, to) => {
          const bare = image.details.form === 'dump' ? await RawConnection.open(to, 'the restore target') : undefined
          try {
            return await restoreRedis(image, c, to, { ...opts, keys: opts.tables, raw: bare })
          } finally {
            bare?.close()
          }
        })
      },
      async fingerprint(of, opts) {
        if (of === 'source') return fingerprintRedis(await live(), config.keys, opts?.tables)
        return withTarget(of.target, (c) => fingerprintRedis(c, config.keys, opts?.tables), false)
      },
      async close() {
        raw?.close()
        const c = await client?.catch(() => undefined)
        await c?.quit().catch(() => c.disconnect())
      },
    }
    return source
  },
}
