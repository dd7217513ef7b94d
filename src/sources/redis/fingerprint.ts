import { createHash } from 'node:crypto'
import type { Fingerprint } from '../source.js'
import type { RedisClient } from './client.js'
import { encodeBody, type KeyRecord, type RedisType, redisTypes } from './codec.js'
import { scanKeys } from './keys.js'
import { readRecords } from './read.js'

/**
 * Per type: the key count and an order-independent content hash (the lane-wise sum of
 * each key's SHA-256 over its type, key and canonical value: hash fields, set and sorted
 * set members sorted). TTLs are left out: they change by the second.
 */
export async function fingerprintRedis(
  client: RedisClient,
  patterns: string[] | undefined,
  only?: string[],
): Promise<Fingerprint> {
  const lanes = new Map<RedisType, { rows: number; lanes: Uint32Array }>(
    redisTypes.map((t) => [t, { rows: 0, lanes: new Uint32Array(8) }]),
  )
  for await (const keys of scanKeys(client, patterns)) {
    for (const r of await readRecords(client, keys)) {
      const acc = lanes.get(r.type)!
      const digest = createHash('sha256')
        .update(encodeBody(canonical(r)))
        .digest()
      for (let i = 0; i < 8; i++) acc.lanes[i] = (acc.lanes[i]! + digest.readUInt32BE(i * 4)) >>> 0
      acc.rows++
    }
  }
  const tables: Fingerprint['tables'] = {}
  for (const [type, acc] of lanes) {
    if (only && !only.includes(type)) continue
    tables[type] = { rows: acc.rows, hash: Buffer.from(acc.lanes.buffer).toString('hex') }
  }
  return { tables }
}

function canonical(r: KeyRecord): KeyRecord {
  const base = { key: r.key, expireAt: null }
  switch (r.type) {
    case 'hash':
      return { ...base, type: r.type, value: [...r.value].sort((a, b) => Buffer.compare(a[0], b[0])) }
    case 'set':
      return { ...base, type: r.type, value: [...r.value].sort(Buffer.compare) }
    case 'zset':
      return { ...base, type: r.type, value: [...r.value].sort((a, b) => Buffer.compare(a[0], b[0])) }
    default:
      return { ...r, expireAt: null }
  }
}
