/**
 * The Redis source reads and writes most keys through Lua scripts (batch-read.ts,
 * batch-write.ts) and falls back to per-key commands on servers that refuse EVAL. Both
 * paths must give the same image and the same restored database: compared here with a
 * user whose ACL forbids scripting. Databases 4 and 5 belong to this file.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { expect, onTestFinished, test } from 'vitest'
import { parseRedisUrl, type RedisAddress } from '../../src/sources/redis/client.js'
import { decodeRecords, encodeBody, type KeyRecord } from '../../src/sources/redis/codec.js'
import { restoreRedis } from '../../src/sources/redis/restore.js'
import { snapshotRedis } from '../../src/sources/redis/snapshot.js'
import { fingerprintOf, redisHost, redisPort, redisUrl, seedEveryType, testDb } from '../support/redis.js'

/** A client on db as a fresh ACL user that may run everything but scripts; removed afterwards. */
async function withoutScripts(admin: Redis, db: number): Promise<Redis> {
  const user = `drkit-noscript-${randomBytes(4).toString('hex')}`
  const password = randomBytes(12).toString('hex')
  await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', '-@scripting')
  const client = new Redis({ host: redisHost, port: redisPort, db, username: user, password, lazyConnect: true })
  await client.connect()
  onTestFinished(async () => {
    client.disconnect()
    await admin.call('ACL', 'DELUSER', user)
  })
  return client
}

async function image(client: Redis, address: RedisAddress) {
  const snapshot = await snapshotRedis(client, address, undefined)
  const parts: Buffer[] = []
  for await (const stream of snapshot.streams) {
    if ('data' in stream) for await (const part of stream.data) parts.push(Buffer.from(part))
  }
  return { bytes: Buffer.concat(parts), details: snapshot.details, tables: snapshot.tables }
}

/** The records of an image, without expiry times (they depend on the moment of reading), in key order. */
async function records(bytes: Buffer): Promise<string[]> {
  const out: string[] = []
  const data = (async function* () {
    yield bytes
  })()
  for await (const r of decodeRecords(data, 'the test image')) {
    out.push(encodeBody({ ...r, expireAt: r.expireAt === null ? null : 0 } as KeyRecord).toString('hex'))
  }
  return out.sort()
}

test('the scripted and the per-key paths give the same image and the same restore', async () => {
  const src = await testDb(4)
  const dst = await testDb(1)
  await seedEveryType(src)
  // Past the script's limits: a long string and a large hash go per key even when scripts run.
  await src.set('str:long', 'x'.repeat(600 * 1024))
  await src.hset('hash:large', Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`])))
  const address = parseRedisUrl(redisUrl(4), 'test')

  const scripted = await image(src, address)
  const plain = await image(await withoutScripts(src, 4), address)
  expect(scripted.details.readBy).toMatch(/^script/)
  expect(plain.details.readBy).toMatch(/^per key/)
  expect(scripted.tables).toEqual(plain.tables)
  expect(await records(scripted.bytes)).toEqual(await records(plain.bytes))

  const stored = (bytes: Buffer) => ({
    details: {},
    streams: (async function* () {
      yield {
        name: 'keys',
        data: (async function* () {
          yield bytes
        })(),
      }
    })(),
  })
  const target = parseRedisUrl(redisUrl(1), 'test')
  const viaScript = await restoreRedis(stored(scripted.bytes), dst, target)
  expect(viaScript.keys).toBe(await src.dbsize())
  expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
  expect(await dst.pttl('session:a')).toBeGreaterThan(0)
  await dst.flushdb()
  const perKey = await restoreRedis(stored(scripted.bytes), await withoutScripts(src, 1), target)
  expect(perKey.keys).toBe(viaScript.keys)
  expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
  expect(await dst.pttl('session:a')).toBeGreaterThan(0)
})
