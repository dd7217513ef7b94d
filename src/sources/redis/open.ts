/** Opens a redis resource: the source behind `index.ts`'s definition. */
import type { Redis } from 'ioredis'
import { PlanError } from '../../errors.js'
import type { Source, SourceContext } from '../source.js'
import { connectRedis, parseRedisUrl, targetUrl } from './client.js'
import { fingerprintRedis } from './fingerprint.js'
import type { RedisConfig } from './index.js'
import { RawConnection } from './raw.js'
import { restoreRedis } from './restore.js'
import { snapshotRedis } from './snapshot.js'

export async function openRedis(config: RedisConfig, ctx: SourceContext): Promise<Source> {
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
}
