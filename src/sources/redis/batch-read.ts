import type { RedisClient } from './client.js'
import { encodeRecord, type RedisType, redisTypes } from './codec.js'
import { readRecords } from './read.js'

/**
 * Reads a SCAN batch in one round trip: a Lua script on the server encodes every key's
 * record in the image's own format (docs/REDIS.md), so the client handles one buffer per
 * batch instead of a reply object per member; that is what makes a backup of millions of
 * small keys cheap. Each batch is read atomically (a script runs alone).
 *
 * Keys the script leaves to the client: collections of more than `scriptLimit` members and
 * strings of more than `scriptLimit` x 1 KiB (so that one script never blocks the server for
 * long), and types it does not know (read.ts names them in its error). Those, and every
 * key on a server without scripting (EVAL refused on the first batch), are read per key.
 */
const scriptLimit = 512

const script = `
local limit = tonumber(ARGV[1])
local noExpiry = struct.pack('>d', -1)
local pack = struct.pack
-- One flat list of pieces for the whole batch, concatenated once at the end: no string is
-- built per member or per key but the length fields.
local out, n, size = {}, 0, 0
local pttls, later = {}, {}
local function put(s) n = n + 1 out[n] = s size = size + #s end
local function bytes(s) put(pack('>I4', #s)) put(s) end
local function head(code, key) put(code) bytes(key) put(noExpiry) end
local function many(code, key, v, step)
  head(code, key)
  put(pack('>I4', #v / step))
  for j = 1, #v do bytes(v[j]) end
end
for _, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  local at, start = n + 1, size
  put('')
  local done = true
  if t == 'string' then
    local v = redis.call('GET', key)
    if #v <= limit * 1024 then head('\\0', key) bytes(v) else done = false end
  elseif t == 'hash' and redis.call('HLEN', key) <= limit then
    many('\\1', key, redis.call('HGETALL', key), 2)
  elseif t == 'list' and redis.call('LLEN', key) <= limit then
    many('\\2', key, redis.call('LRANGE', key, 0, -1), 1)
  elseif t == 'set' and redis.call('SCARD', key) <= limit then
    many('\\3', key, redis.call('SMEMBERS', key), 1)
  elseif t == 'zset' and redis.call('ZCARD', key) <= limit then
    many('\\4', key, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'), 2)
  elseif t == 'stream' and redis.call('XLEN', key) <= limit then
    local info = redis.call('XINFO', 'STREAM', key)
    local lastId
    for j = 1, #info, 2 do if info[j] == 'last-generated-id' then lastId = info[j + 1] end end
    local entries = redis.call('XRANGE', key, '-', '+')
    head('\\5', key)
    bytes(lastId)
    put(pack('>I4', #entries))
    for _, e in ipairs(entries) do
      bytes(e[1])
      put(pack('>I4', #e[2] / 2))
      for j = 1, #e[2] do bytes(e[2][j]) end
    end
  else
    done = false
  end
  if done then
    out[at] = pack('>I4I4', 0, size - start)
    size = size + 8
    pttls[#pttls + 1] = redis.call('PTTL', key)
  else
    -- Left to the client: drop what was put for this key.
    for j = at, n do out[j] = nil end
    n, size = at - 1, start
    if t ~= 'none' then later[#later + 1] = key end
  end
end
return { table.concat(out, '', 1, n), pttls, later }
`

export interface EncodedBatch {
  /** Whole records, one after another, as the image stores them. */
  records: Buffer
  /** Keys per type in `records`. */
  counts: Map<RedisType, number>
}

export class BatchReader {
  private useScript = true
  private first = true

  constructor(private readonly client: RedisClient) {}

  /** Whether the server ran the script (false once it refused EVAL: every key was read per key). */
  get scripted(): boolean {
    return this.useScript
  }

  async read(keys: Buffer[]): Promise<EncodedBatch> {
    const counts = new Map<RedisType, number>()
    const parts: Buffer[] = []
    let perKey = keys
    if (this.useScript) {
      const reply = await this.evaluate(keys)
      if (reply) {
        parts.push(withExpiries(reply[0], reply[1], Date.now(), counts))
        perKey = reply[2]
      } else perKey = keys
    }
    if (perKey.length > 0) {
      for (const r of await readRecords(this.client, perKey)) {
        counts.set(r.type, (counts.get(r.type) ?? 0) + 1)
        parts.push(encodeRecord(r))
      }
    }
    return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts), counts }
  }

  /** The script's reply; undefined when the server refuses scripts on the first batch. */
  private async evaluate(keys: Buffer[]): Promise<[Buffer, number[], Buffer[]] | undefined> {
    try {
      const reply = await this.client.callBuffer('EVAL', script, keys.length, ...keys, scriptLimit)
      this.first = false
      return reply as [Buffer, number[], Buffer[]]
    } catch (err) {
      if (!this.first) throw err
      // EVAL unknown, disabled or not permitted (some managed services): read per key instead.
      this.useScript = false
      return undefined
    }
  }
}

/**
 * Writes each record's absolute expiry (read time plus its PTTL, as read.ts does) over the
 * script's placeholder, and counts the records by type.
 */
function withExpiries(records: Buffer, pttls: number[], now: number, counts: Map<RedisType, number>): Buffer {
  let at = 0
  for (const pttl of pttls) {
    const size = records.readUInt32BE(at + 4)
    const type = redisTypes[records[at + 8]!]!
    counts.set(type, (counts.get(type) ?? 0) + 1)
    const keyLength = records.readUInt32BE(at + 9)
    if (pttl >= 0) records.writeDoubleBE(now + pttl, at + 13 + keyLength)
    at += 8 + size
  }
  return records
}
