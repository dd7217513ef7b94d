import { randomBytes } from 'node:crypto'
import { DrkitError } from '../../errors.js'
import type { RedisType } from './codec.js'
import type { RawConnection } from './raw.js'

/**
 * The dump form of an image (`form: dump`, docs/REDIS.md): a key's value as the server's own
 * `DUMP` payload (its RDB serialisation, with the RDB version and a checksum at the end),
 * written back with `RESTORE ... REPLACE`. Exact for every type (stream consumer groups too)
 * and cheap on both sides, but a payload restores only into a server that reads its RDB
 * version (the same or a newer Redis); the portable records restore anywhere.
 *
 * A dump record is an image record whose type code is 16 plus the type's (16 string ... 21
 * stream) and whose value is the payload as one "bytes" field (u32 length, bytes).
 */
export const dumpCode = 16

/** Whether a record body (type code first) holds a DUMP payload. */
export function isDumpRecord(body: Buffer): boolean {
  return body[0]! >= dumpCode
}

/** The RDB version a payload was written with: a little-endian u16 before its 8-byte checksum. */
export function payloadRdbVersion(payload: Buffer): number {
  return payload.length >= 10 ? payload.readUInt16LE(payload.length - 10) : -1
}

/** The key's type from the RDB object type that starts its payload; undefined for module types. */
export function payloadType(payload: Buffer): RedisType | undefined {
  return rdbTypes[payload[0]!]
}

const rdbTypes: Record<number, RedisType> = {
  0: 'string',
  ...Object.fromEntries([1, 10, 14, 18].map((t) => [t, 'list'])),
  ...Object.fromEntries([2, 11, 20].map((t) => [t, 'set'])),
  ...Object.fromEntries([3, 5, 12, 17].map((t) => [t, 'zset'])),
  ...Object.fromEntries([4, 9, 13, 16].map((t) => [t, 'hash'])),
  ...Object.fromEntries([15, 19, 21].map((t) => [t, 'stream'])),
}

/** Where a dump record's payload (its value field) is in the body, or undefined when the body is not laid out as one. */
export function dumpPayload(body: Buffer, keyLength: number): [number, number] | undefined {
  const at = 5 + keyLength + 8
  if (at + 4 > body.length) return undefined
  const length = body.readUInt32BE(at)
  return at + 4 + length === body.length ? [at + 4, body.length] : undefined
}

/**
 * Checks, before anything is written, that the target reads payloads of the image's RDB
 * version: a server reads its own version and older ones. The target's version comes from
 * the payload of a probe key set, dumped and deleted in one transaction (no other client
 * sees it).
 */
export async function checkTargetReads(raw: RawConnection, rdbVersion: number, where: string, from: string) {
  const probe = `drkit:restore-probe:${randomBytes(8).toString('hex')}`
  const replies = await raw.send([['MULTI'], ['SET', probe, 'x'], ['DUMP', probe], ['DEL', probe], ['EXEC']])
  const exec = replies.at(-1)
  const payload = Array.isArray(exec) ? exec[1] : undefined
  if (!Buffer.isBuffer(payload)) {
    throw new DrkitError(`Redis at ${where} refused DUMP, which drkit needs to check that it can read this snapshot`)
  }
  const reads = payloadRdbVersion(payload)
  if (rdbVersion > reads) {
    throw new DrkitError(
      `Redis at ${where} cannot read this snapshot's values: they are DUMP payloads of RDB version ${rdbVersion} ` +
        `(taken from Redis ${from}), and this server reads up to version ${reads}`,
      'Restore into a Redis of the same or a newer version, or take snapshots with `form: portable` on the ' +
        'resource, which restore into any version. Nothing was written.',
    )
  }
}
