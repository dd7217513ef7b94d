/**
 * The dump form of Redis images (dump.ts, raw.ts): DUMP payloads read in one MULTI/EXEC per
 * SCAN batch and written back with RESTORE. Every type restores exactly (stream consumer
 * groups too, which the portable form drops), a target that cannot read the payloads'
 * RDB version is refused before anything is written, and a server that refuses DUMP gets a
 * portable image. Databases 7 and 10 belong to this file.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { expect, onTestFinished, test } from 'vitest'
import type { SourceImage, StoredImage } from '../../src/sources/index.js'
import { parseRedisUrl } from '../../src/sources/redis/client.js'
import type { RedisValue } from '../../src/sources/redis/codec.js'
import { RawConnection } from '../../src/sources/redis/raw.js'
import { decodeDumpPayload } from '../../src/sources/redis/rdb.js'
import { readRecords } from '../../src/sources/redis/read.js'
import { restoreRedis } from '../../src/sources/redis/restore.js'
import { snapshotRedis } from '../../src/sources/redis/snapshot.js'
import { fingerprintOf, redisUrl, seedEveryType, testDb } from '../support/redis.js'

async function bare(url: string): Promise<RawConnection> {
  const raw = await RawConnection.open(parseRedisUrl(url, 'test'), 'test')
  onTestFinished(() => raw.close())
  return raw
}

/** The image's bytes, read to the end, and its details as they stand then. */
async function take(image: SourceImage): Promise<StoredImage> {
  const parts: Buffer[] = []
  for await (const stream of image.streams) {
    if ('data' in stream) for await (const part of stream.data) parts.push(Buffer.from(part))
  }
  const bytes = Buffer.concat(parts)
  const streams = (async function* () {
    yield {
      name: 'keys',
      data: (async function* () {
        yield bytes
      })(),
    }
  })()
  return { details: { ...image.details }, streams }
}

async function seed(src: Redis): Promise<void> {
  await seedEveryType(src)
  await src.call('XGROUP', 'CREATE', 'stream:events', 'readers', '0')
  await src.call('XREADGROUP', 'GROUP', 'readers', 'ann', 'COUNT', '1', 'STREAMS', 'stream:events', '>')
}

test('a dump image restores every type exactly, with consumer groups and TTLs', async () => {
  const src = await testDb(7)
  const dst = await testDb(10)
  await seed(src)
  const image = await take(
    await snapshotRedis(src, parseRedisUrl(redisUrl(7), 'test'), undefined, await bare(redisUrl(7))),
  )
  expect(image.details).toMatchObject({ form: 'dump', dumpKeys: await src.dbsize() })
  expect(image.details.rdbVersion).toBeGreaterThan(0)

  const target = parseRedisUrl(redisUrl(10), 'test')
  const result = await restoreRedis(image, dst, target, { raw: await bare(redisUrl(10)) })
  expect(result.keys).toBe(await src.dbsize())
  expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
  expect(await dst.call('XINFO', 'GROUPS', 'stream:events')).toEqual(await src.call('XINFO', 'GROUPS', 'stream:events'))
  expect(await dst.pttl('session:a')).toBeGreaterThan(50_000)
  expect(await dst.pttl('hash:user')).toBe(-1)

  // Without a bare connection the payloads go through the client's pipelines.
  await dst.flushdb()
  const image2 = await take(
    await snapshotRedis(src, parseRedisUrl(redisUrl(7), 'test'), undefined, await bare(redisUrl(7))),
  )
  expect((await restoreRedis(image2, dst, target)).keys).toBe(await src.dbsize())
  expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
  expect(await dst.pttl('session:a')).toBeGreaterThan(50_000)
})

test('a target that reads an older RDB version is refused before anything is written', async () => {
  const src = await testDb(7)
  const dst = await testDb(10)
  await seed(src)
  const image = await take(
    await snapshotRedis(src, parseRedisUrl(redisUrl(7), 'test'), undefined, await bare(redisUrl(7))),
  )
  image.details.rdbVersion = 250
  const target = parseRedisUrl(redisUrl(10), 'test')
  await expect(restoreRedis(image, dst, target, { raw: await bare(redisUrl(10)) })).rejects.toThrow(
    /cannot read this snapshot's values: they are DUMP payloads of RDB version 250/,
  )
  expect(await dst.dbsize()).toBe(0)
})

test('a server that refuses DUMP gets a portable image', async () => {
  const src = await testDb(7)
  const dst = await testDb(10)
  await seed(src)
  const user = `drkit-nodump-${randomBytes(4).toString('hex')}`
  const password = randomBytes(12).toString('hex')
  await src.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', '-dump')
  onTestFinished(async () => {
    await src.call('ACL', 'DELUSER', user)
  })
  const url = `redis://${user}:${password}@127.0.0.1:6379/7`
  const image = await take(await snapshotRedis(src, parseRedisUrl(url, 'test'), undefined, await bare(url)))
  expect(image.details).toMatchObject({ form: 'portable' })
  expect(image.details.dumpKeys).toBeUndefined()
  await restoreRedis(image, dst, parseRedisUrl(redisUrl(10), 'test'))
  expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
})

test('DUMP payloads of every encoding read back, without a server, as the values the server returns', async () => {
  const src = await testDb(7)
  await seedEveryType(src)
  const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i))
  await src.set('str:int', '1234567')
  await src.set('str:negative', '-42')
  await src.set('str:long', 'compressible '.repeat(400))
  await src.rpush('list:ints', '1', '-7', '300', '70000', '5000000000', 'x')
  await src.rpush('list:long', ...many(3000, (i) => `entry ${i} ${'y'.repeat(i % 50)}`))
  await src.sadd('set:ints', '1', '2', '-3', '100000', '9000000000')
  await src.sadd('set:manyints', ...many(600, (i) => String(i * 7)))
  await src.hset('hash:big', Object.fromEntries(many(300, (i) => [`field${i}`, `value ${i}`])))
  await src.hset('hash:ints', 'a', '1', 'b', '-200', 'c', '123456789012')
  await src.zadd('zset:big', ...many(200, (i) => [String(i / 3), `m${i}`]).flat())
  await src.zadd('zset:inf', '-inf', 'bottom', '+inf', 'top', '0.1', 'tenth', '1e300', 'huge')
  for (let i = 0; i < 250; i++) {
    const fields = i % 3 === 0 ? ['kind', 'a', 'n', String(i)] : ['other', `v${i}`]
    await src.xadd('stream:long', `${1000 + i}-${i % 4}`, ...fields)
  }
  await src.xdel('stream:long', '1003-3', '1100-0', '1201-1')
  await src.call('XGROUP', 'CREATE', 'stream:long', 'readers', '0')
  await src.call('XREADGROUP', 'GROUP', 'readers', 'ann', 'COUNT', '5', 'STREAMS', 'stream:long', '>')

  const keys = await src.keysBuffer('*')
  const expected = await readRecords(src, keys)
  expect(expected.length).toBe(keys.length)
  const unordered = (r: RedisValue) => {
    if (r.type === 'set') return { ...r, value: [...r.value].sort(Buffer.compare) }
    if (r.type === 'hash') return { ...r, value: [...r.value].sort((a, b) => Buffer.compare(a[0], b[0])) }
    if (r.type === 'zset') {
      const score = (t: string) => Number(t.replace(/^\+?inf$/, 'Infinity').replace('-inf', '-Infinity'))
      return {
        ...r,
        value: r.value.map(([m, t]) => [m, score(t)]).sort((a, b) => Buffer.compare(a[0] as Buffer, b[0] as Buffer)),
      }
    }
    return r
  }
  for (const record of expected) {
    const decoded = decodeDumpPayload((await src.dumpBuffer(record.key))!)
    const { key: _key, expireAt: _expireAt, ...value } = record
    expect(unordered(decoded), record.key.toString()).toEqual(unordered(value))
  }
  const encodings = new Set(await Promise.all(keys.map((k) => src.call('OBJECT', 'ENCODING', k))))
  // The seed covers the compact encodings and the large ones alike.
  for (const e of ['int', 'embstr', 'raw', 'listpack', 'quicklist', 'intset', 'hashtable', 'skiplist', 'stream']) {
    expect(encodings).toContain(e)
  }
})
