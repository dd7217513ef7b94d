import { DrkitError } from '../../errors.js'
import { connectRedis, parseRedisUrl } from '../../sources/redis/client.js'
import type { ScratchFactory, ScratchTarget } from './index.js'

/**
 * A spare Redis database on the resource's server: the highest-numbered one that is empty
 * and belongs to no resource of the plan, or the one the drill names with `scratch:`.
 * A restore refuses a database that fills up in between, so a chosen database is never
 * mixed with someone else's keys.
 */
export const redisScratch: ScratchFactory = {
  sql: false,
  async create(resource, opts) {
    const config = resource.config as { url: string }
    if (opts.given) return target(opts.given, config, true)
    const live = parseRedisUrl(config.url, resource.name)
    const taken = new Set(
      opts.resources
        .filter((r) => r.type === 'redis')
        .map((r) => parseRedisUrl((r.config as { url: string }).url, r.name))
        .filter((a) => a.host === live.host && a.port === live.port)
        .map((a) => a.db),
    )
    const client = await connectRedis(live, resource.name)
    try {
      const reply = (await client.call('CONFIG', 'GET', 'databases').catch(() => [])) as string[]
      const count = Number(reply[1] ?? 16) || 16
      for (let db = count - 1; db > 0; db--) {
        if (taken.has(db)) continue
        await client.select(db)
        if ((await client.dbsize()) > 0) continue
        const url = new URL(live.url)
        url.pathname = `/${db}`
        return target(url.toString(), config, true)
      }
    } finally {
      client.disconnect()
    }
    throw new DrkitError(
      `${resource.name}: no empty Redis database on ${live.host}:${live.port} to restore a scratch copy into`,
      'Name one with `scratch: redis://HOST:PORT/DB` in the drill.',
    )
  },
  async existing(resource) {
    const config = resource.config as { url: string }
    return target(config.url, config, false)
  },
}

function target(url: string, config: { url: string }, owned: boolean): ScratchTarget {
  const flush = async () => {
    const client = await connectRedis(parseRedisUrl(url, 'the scratch target'), 'the scratch target')
    try {
      await client.flushdb()
    } finally {
      client.disconnect()
    }
  }
  return {
    target: url,
    config: { ...config, url },
    wipe: flush,
    async remove() {
      if (owned) await flush()
    },
  }
}
