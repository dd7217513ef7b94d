import { DrkitError } from '../../errors.js'
import type { RedisClient } from './client.js'

/**
 * Writes records in batches of about a thousand keys with one EVAL each: a Lua script on the
 * server decodes the records (the image's own format, with the remaining TTL in ms where the
 * image has the absolute expiry) and runs DEL, the writes and PEXPIRE itself, so that the
 * client sends one command per batch instead of three per key. A string needs no DEL: SET
 * replaces a key of any type and its TTL. Collections go in slices of 1000 arguments.
 *
 * Only strings, hashes, lists, sets and sorted sets of modest size take this path (see
 * `fitsScript`); streams and large values go through RecordWriter (write.ts).
 */
const script = `
local blob = ARGV[1]
local pos = 1
local function u32() local v; v, pos = struct.unpack('>I4', blob, pos) return v end
local function bytes() local n = u32() local s = string.sub(blob, pos, pos + n - 1) pos = pos + n return s end
local commands = { 'HSET', 'RPUSH', 'SADD', 'ZADD' }
while pos <= #blob do
  local size = u32()
  local stop = pos + size
  local t = string.byte(blob, pos)
  pos = pos + 1
  local key = bytes()
  local ttl
  ttl, pos = struct.unpack('>d', blob, pos)
  if t == 0 then
    redis.call('SET', key, bytes())
  else
    redis.call('DEL', key)
    local command = commands[t]
    local args = {}
    for _ = 1, u32() do
      if t == 4 then
        local member = bytes()
        args[#args + 1] = bytes()
        args[#args + 1] = member
      elseif t == 1 then
        args[#args + 1] = bytes()
        args[#args + 1] = bytes()
      else
        args[#args + 1] = bytes()
      end
      if #args >= 1000 then redis.call(command, key, unpack(args)) args = {} end
    end
    if #args > 0 then redis.call(command, key, unpack(args)) end
  end
  if ttl >= 0 then redis.call('PEXPIRE', key, ttl) end
  pos = stop
end
return 0
`

/** Keys per EVAL, and the largest record body (bytes) the script takes. */
const batchKeys = 1000
const maxScriptBody = 256 * 1024

/** Whether a record body (type code first) can go through the script. */
export function fitsScript(body: Buffer): boolean {
  return body[0]! <= 4 && body.length <= maxScriptBody
}

export class ScriptWriter {
  private parts: Buffer[] = []

  constructor(
    private readonly client: RedisClient,
    private readonly where: string,
  ) {}

  /** Whether the server runs scripts: EVAL may be unknown, disabled or not permitted (some managed services). */
  async usable(): Promise<boolean> {
    try {
      await this.client.call('EVAL', 'return 0', 0)
      return true
    } catch {
      return false
    }
  }

  /** Queues a record body, written with `ttlMs` (null: no expiry) over its expiry field. */
  async add(body: Buffer, ttlMs: number | null): Promise<void> {
    const copy = Buffer.allocUnsafe(4 + body.length)
    copy.writeUInt32BE(body.length, 0)
    body.copy(copy, 4)
    copy.writeDoubleBE(ttlMs ?? -1, 4 + 5 + body.readUInt32BE(1))
    this.parts.push(copy)
    if (this.parts.length >= batchKeys) await this.flush()
  }

  /**
   * Sends the queued records. One batch may be in flight while the caller decodes the next
   * (so that the client's work and the server's overlap); this waits for the one before it,
   * and reports its failure.
   */
  async flush(): Promise<void> {
    await this.settle()
    if (this.parts.length === 0) return
    const blob = Buffer.concat(this.parts)
    this.parts = []
    this.inFlight = this.client.callBuffer('EVAL', script, 0, blob).then(
      () => undefined,
      (err: unknown) => {
        throw new DrkitError(`writing into Redis at ${this.where} failed: ${(err as Error).message}`, undefined, {
          cause: err,
        })
      },
    )
    // Reported by the next settle; never an unhandled rejection meanwhile.
    this.inFlight.catch(() => undefined)
  }

  /** Waits for the batch in flight; call after the last flush. */
  async settle(): Promise<void> {
    const pending = this.inFlight
    this.inFlight = undefined
    await pending
  }

  private inFlight: Promise<void> | undefined
}
