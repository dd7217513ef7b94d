/**
 * The Redis source: SCAN-based images of one logical database (every type, with TTLs),
 * restores into another database, and fingerprints to compare states. See docs/REDIS.md.
 */
import * as z from '../../plan/zod.js'
import type { SourceDefinition } from '../source.js'

export const redisConfig = z
  .object({
    /** redis://[user:password@]host:port/db (rediss:// for TLS). */
    url: z.string().min(1),
    /** Key patterns (SCAN MATCH globs); every key when absent. */
    keys: z.array(z.string().min(1)).min(1).optional(),
    /**
     * How snapshots hold values: `dump`, the server's DUMP payloads (fast and exact, restore into
     * the same or a newer Redis), or `portable` records (restore into any version and implementation).
     */
    form: z.enum(['dump', 'portable']).default('dump'),
  })
  .strict()

export type RedisConfig = z.infer<typeof redisConfig>

export const redis: SourceDefinition<RedisConfig> = {
  type: 'redis',
  configSchema: redisConfig,
  // The implementation, with its database driver, loads only when a resource of this type is opened.
  open: (config, ctx) => import('./open.js').then((m) => m.openRedis(config, ctx)),
}
