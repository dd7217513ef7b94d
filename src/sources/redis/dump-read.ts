import type { EncodedBatch } from './batch-read.js'
import { type RedisType, redisTypes } from './codec.js'
import { dumpCode, payloadRdbVersion, payloadType } from './dump.js'
import { type RawConnection, type RawReply, RedisReplyError, RespBuilder } from './raw.js'

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
    const commands = new RespBuilder().command(1).arg('MULTI')
    for (const key of keys) commands.command(2).arg('DUMP').arg(key).command(2).arg('PTTL').arg(key)
    commands.command(1).arg('EXEC')
    const count = commands.count
    const replies = await this.raw.sendEncoded(commands.take(), count)
    const exec = replies.at(-1)
    if (!Array.isArray(exec)) {
      const refused = replies.find((r) => r instanceof RedisReplyError) ?? exec
      if (this.dumped === 0 && refused instanceof RedisReplyError) return undefined
      throw refused instanceof Error ? refused : new Error('Redis did not run the read transaction')
    }
    const now = Date.now()
    const counts = new Map<RedisType, number>()
    const others: Buffer[] = []
    // The records are laid out in one buffer, sized first: no buffer per key.
    const found: { key: Buffer; type: RedisType; expireAt: number; payload: Buffer }[] = []
    let size = 0
    for (const [i, key] of keys.entries()) {
      const payload = value(exec[2 * i]) as Buffer | null
      const pttl = Number(value(exec[2 * i + 1]))
      if (payload === null) continue
      const type = payloadType(payload)
      if (!type) {
        others.push(key)
        continue
      }
      found.push({ key, type, expireAt: pttl >= 0 ? now + pttl : -1, payload })
      size += recordSize(key, payload)
      counts.set(type, (counts.get(type) ?? 0) + 1)
      this.rdbVersion ??= payloadRdbVersion(payload)
    }
    const records = Buffer.allocUnsafe(size)
    let at = 0
    for (const f of found) at = writeRecord(records, at, f.key, f.type, f.expireAt, f.payload)
    this.dumped += found.length
    return { batch: { records, counts }, others }
  }
}

function value(reply: RawReply | undefined): RawReply {
  if (reply instanceof Error) throw reply
  return reply ?? null
}

function recordSize(key: Buffer, payload: Buffer): number {
  return 8 + 1 + 4 + key.length + 8 + 4 + payload.length
}

/** Writes a whole image record (length prefix included) holding a DUMP payload at `at`; returns its end. */
function writeRecord(out: Buffer, at: number, key: Buffer, type: RedisType, expireAt: number, payload: Buffer) {
  out.writeUInt32BE(0, at)
  out.writeUInt32BE(recordSize(key, payload) - 8, at + 4)
  out[at + 8] = dumpCode + redisTypes.indexOf(type)
  out.writeUInt32BE(key.length, at + 9)
  at += 13 + key.copy(out, at + 13)
  out.writeDoubleBE(expireAt, at)
  out.writeUInt32BE(payload.length, at + 8)
  return at + 12 + payload.copy(out, at + 12)
}
