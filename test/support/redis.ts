/**
 * Redis for the integration tests: a client on one of the test databases (1-15, never 0),
 * flushed when the test finishes, a plan for a Redis resource, and a seed of every type.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { onTestFinished } from 'vitest'
import { fingerprintRedis } from '../../src/sources/redis/fingerprint.js'

export const redisHost = '127.0.0.1'
export const redisPort = 6379
export const redisUrl = (db: number) => `redis://${redisHost}:${redisPort}/${db}`

/** A client on test database `db`, emptied now and again when the test finishes. */
export async function testDb(db: number): Promise<Redis> {
  // Test files run in parallel, so each owns its databases: redis.test.ts 11-15, drill-kv.test.ts 8-9, sources-s3.test.ts 5-6, redis-dump.test.ts 7 and 10, redis-scripts.test.ts 1 and 4 (the benchmarks use 2-3).
  if (db < 1 || db > 15) throw new Error(`tests use databases 1-15 only (0 is left to developers), not ${db}`)
  const client = new Redis({ host: redisHost, port: redisPort, db, lazyConnect: true })
  await client.connect()
  await client.flushdb()
  onTestFinished(async () => {
    await client.flushdb()
    await client.quit()
  })
  return client
}

/** Writes drkit.yaml with one Redis resource `cache` on database `db`, repository ./repo. */
export async function writeRedisPlan(dir: string, db: number, extra = ''): Promise<void> {
  await writeFile(
    join(dir, 'drkit.yaml'),
    `repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: ${redisUrl(db)}\n${extra}`,
  )
}

/** Bytes that are not valid UTF-8. */
export const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x41, 0xc3])

/** One key of every type, some with binary keys, members and values, and a few with TTLs. */
export async function seedEveryType(c: Redis): Promise<void> {
  await c.set('str:text', 'héllo wörld 😀')
  await c.set('str:empty', '')
  await c.set(Buffer.concat([Buffer.from('str:bin:'), binary]), binary)
  await c.set('session:a', 'alive', 'PX', 60_000)
  await c.set('session:b', 'soon', 'PX', 30_000)
  await c.hset('hash:user', { name: 'Ann', age: '42' })
  await c.hset('hash:bin', binary, binary, 'plain', 'x')
  await c.rpush('list:q', 'a', 'b', 'a', binary)
  await c.sadd('set:tags', 'x', 'y', binary)
  await c.zadd('zset:scores', 1.5, 'ann', -3, 'bob', '+inf', 'top', 0, binary)
  await c.xadd('stream:events', '1-1', 'kind', 'created', 'by', 'ann')
  await c.xadd('stream:events', '2-0', 'kind', 'bin', 'data', binary)
  await c.call('XGROUP', 'CREATE', 'stream:empty', 'g', '$', 'MKSTREAM')
  await c.call('XGROUP', 'DESTROY', 'stream:empty', 'g')
  const big = Array.from({ length: 2500 }, (_, i) => `item-${i}`)
  await c.rpush('list:big', ...big)
  await c.sadd('set:big', ...big)
}

export const fingerprintOf = (c: Redis, patterns?: string[]) => fingerprintRedis(c, patterns)
