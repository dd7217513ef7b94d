import type { EncodedBatch } from './batch-read.js'
import { type RedisType, redisTypes } from './codec.js'
import { dumpCode, payloadRdbVersion, payloadType } from './dump.js'
import { type RawConnection, type RawReply, RedisReplyError } from './raw.js'

/**
 * Reads a SCAN batch in dump form: `DUMP` and `PTTL` of every key in one MULTI/EXEC on the
 * bare connection, so the batch is read atomically, as the scripts read it in portable form.
 * Keys whose payload is of a module type are handed back for the portable reader (which
 * names them in its error).
 */
export class DumpReader {
  /** Keys stored as payloads so far, and the RDB version of the first. */
  dumped = 0
  rdbVersion: number | undefined

  constructor(private readonly raw: RawConnection) {}

  /**
   * The batch's records and the keys left to the portable reader; undefined when the server
   * refuses DUMP or transactions (an ACL, a proxy), so that the caller reads portably.
   */
  async read(keys: Buffer[]): Promise<{ batch: EncodedBatch; others: Buffer[] } | undefined> {
    const commands: (string | Buffer)[][] = [['MULTI']]
    for (const key of keys) commands.push(['DUMP', key], ['PTTL', key])
    commands.push(['EXEC'])
    const replies = await this.raw.send(commands)
    const exec = replies.at(-1)
    if (!Array.isArray(exec)) {
      const refused = replies.find((r) => r instanceof RedisReplyError) ?? exec
      if (this.dumped === 0 && refused instanceof RedisReplyError) return undefined
      throw refused instanceof Error ? refused : new Error('Redis did not run the read transaction')
    }
    const now = Date.now()
    const parts: Buffer[] = []
    const counts = new Map<RedisType, number>()
    const others: Buffer[] = []
    for (const [i, key] of keys.entries()) {
      const payload = value(exec[2 * i])
      const pttl = Number(value(exec[2 * i + 1]))
      if (payload === null) continue
      const type = payloadType(payload as Buffer)
      if (!type) {
        others.push(key)
        continue
      }
      parts.push(record(key, type, pttl >= 0 ? now + pttl : -1, payload as Buffer))
      counts.set(type, (counts.get(type) ?? 0) + 1)
      this.rdbVersion ??= payloadRdbVersion(payload as Buffer)
      this.dumped++
    }
    return { batch: { records: Buffer.concat(parts), counts }, others }
  }
}

function value(reply: RawReply | undefined): RawReply {
  if (reply instanceof Error) throw reply
  return reply ?? null
}

/** A whole image record (length prefix included) holding a DUMP payload. */
function record(key: Buffer, type: RedisType, expireAt: number, payload: Buffer): Buffer {
  const size = 1 + 4 + key.length + 8 + 4 + payload.length
  const out = Buffer.allocUnsafe(8 + size)
  out.writeUInt32BE(0, 0)
  out.writeUInt32BE(size, 4)
  out[8] = dumpCode + redisTypes.indexOf(type)
  out.writeUInt32BE(key.length, 9)
  key.copy(out, 13)
  let at = 13 + key.length
  out.writeDoubleBE(expireAt, at)
  out.writeUInt32BE(payload.length, at + 8)
  at += 12
  payload.copy(out, at)
  return out
}
