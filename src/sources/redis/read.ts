import { DrkitError } from '../../errors.js'
import type { RedisClient } from './client.js'
import type { KeyRecord, RedisType, StreamEntry } from './codec.js'
import { redisTypes } from './codec.js'

type Reply = [Error | null, unknown][]

/**
 * The current type, expiry and value of each key, in two pipelined round trips (TYPE and
 * PTTL, then one read per key). Keys gone by the time they are read are left out; a key
 * whose type changed in between is read again.
 */
export async function readRecords(client: RedisClient, keys: Buffer[], attempt = 0): Promise<KeyRecord[]> {
  const meta = client.pipeline()
  for (const key of keys) meta.type(key).pttl(key)
  const metaReplies = (await meta.exec()) as Reply
  const now = Date.now()
  const found: { key: Buffer; type: RedisType; expireAt: number | null }[] = []
  for (const [i, key] of keys.entries()) {
    const [typeErr, type] = metaReplies[2 * i]!
    const [, pttl] = metaReplies[2 * i + 1]!
    if (typeErr) throw typeErr
    if (type === 'none') continue
    if (!redisTypes.includes(type as RedisType)) {
      throw new DrkitError(
        `key ${key.toString()} has type ${type}, which drkit cannot read`,
        'Module types (JSON, time series, …) are not supported yet; leave them out with `keys:` patterns.',
      )
    }
    found.push({ key, type: type as RedisType, expireAt: Number(pttl) >= 0 ? now + Number(pttl) : null })
  }
  const reads = client.pipeline()
  for (const { key, type } of found) {
    if (type === 'string') reads.getBuffer(key)
    else if (type === 'hash') reads.callBuffer('HGETALL', key)
    else if (type === 'list') reads.callBuffer('LRANGE', key, 0, -1)
    else if (type === 'set') reads.callBuffer('SMEMBERS', key)
    else if (type === 'zset') reads.callBuffer('ZRANGE', key, 0, -1, 'WITHSCORES')
    else reads.call('XINFO', 'STREAM', key).callBuffer('XRANGE', key, '-', '+')
  }
  const replies = (await reads.exec()) as Reply
  const records: KeyRecord[] = []
  const retry: Buffer[] = []
  let at = 0
  for (const f of found) {
    const [err, reply] = replies[at++]!
    const [rangeErr, range] = f.type === 'stream' ? replies[at++]! : [null, null]
    if (err || rangeErr) {
      retry.push(f.key)
      continue
    }
    const record = toRecord(f, reply, range)
    if (record) records.push(record)
  }
  if (retry.length > 0) {
    if (attempt >= 3) throw new DrkitError(`keys kept changing type while read: ${retry.map(String).join(', ')}`)
    records.push(...(await readRecords(client, retry, attempt + 1)))
  }
  return records
}

function toRecord(
  f: { key: Buffer; type: RedisType; expireAt: number | null },
  reply: unknown,
  range: unknown,
): KeyRecord | undefined {
  const { key, expireAt } = f
  switch (f.type) {
    case 'string':
      return reply === null ? undefined : { key, expireAt, type: 'string', value: reply as Buffer }
    case 'hash':
      return nonEmpty({ key, expireAt, type: 'hash', value: pairs(reply as Buffer[]) })
    case 'list':
      return nonEmpty({ key, expireAt, type: 'list', value: reply as Buffer[] })
    case 'set':
      return nonEmpty({ key, expireAt, type: 'set', value: reply as Buffer[] })
    case 'zset':
      return nonEmpty({
        key,
        expireAt,
        type: 'zset',
        value: pairs(reply as Buffer[]).map(([m, s]): [Buffer, string] => [m, s.toString()]),
      })
    case 'stream': {
      const info = reply as unknown[]
      const lastId = String(info[info.indexOf('last-generated-id') + 1])
      const entries = (range as [Buffer, Buffer[]][]).map(
        ([id, fields]): StreamEntry => ({ id: id.toString(), fields: pairs(fields) }),
      )
      return { key, expireAt, type: 'stream', value: { lastId, entries } }
    }
  }
}

/** A collection read after its key was deleted is empty: the key is gone. */
function nonEmpty(r: KeyRecord): KeyRecord | undefined {
  return Array.isArray(r.value) && r.value.length === 0 ? undefined : r
}

/** Pairs from a flat reply; RESP3 servers already send some (ZRANGE WITHSCORES) as pairs. */
function pairs(flat: Buffer[] | [Buffer, Buffer][]): [Buffer, Buffer][] {
  if (Array.isArray(flat[0])) return flat as [Buffer, Buffer][]
  const out: [Buffer, Buffer][] = []
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as Buffer, flat[i + 1] as Buffer])
  return out
}
