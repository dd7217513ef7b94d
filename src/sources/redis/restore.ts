import { RefusedError } from '../../errors.js'
import type { RestoreOptions, RestoreResult, StoredImage } from '../source.js'
import { fitsScript, ScriptWriter } from './batch-write.js'
import type { RedisAddress, RedisClient } from './client.js'
import { damagedRecord, decodeRecord, recordBatches } from './codec.js'
import { checkTargetReads, dumpPayload, isDumpRecord } from './dump.js'
import { DumpWriter } from './dump-write.js'
import { matchesPattern } from './keys.js'
import type { RawConnection } from './raw.js'
import { RecordWriter } from './write.js'

export interface RedisRestoreOptions extends RestoreOptions {
  /** Restore only keys matching one of these patterns. */
  keys?: string[]
  /** A bare connection to the target, for DUMP payloads (without one they go through `client`'s pipelines). */
  raw?: RawConnection
}

export interface RedisRestoreResult extends RestoreResult {
  /** Keys written, keys whose TTL ran out since the snapshot (not restored), keys left out by pattern. */
  keys: number
  expired: number
  skipped: number
}

/**
 * Writes an image's keys into a target database with their remaining TTL (expiry time in
 * the image minus now): a key that expired since the snapshot is not written. A non-empty
 * target is refused without `force`; with it, only the restored keys are replaced.
 *
 * Records are looked at raw (type, key, expiry) and, where the server runs scripts, most go
 * to it as they are stored (batch-write.ts); the others are decoded and pipelined (write.ts).
 * DUMP payloads (dump.ts) go with `RESTORE ... REPLACE`, in scripts too where the server runs
 * them, after checking that the target reads their RDB version.
 */
export async function restoreRedis(
  image: StoredImage,
  client: RedisClient,
  target: RedisAddress,
  opts: RedisRestoreOptions = {},
): Promise<RedisRestoreResult> {
  await checkEmpty(client, target, opts.force)
  const writer = new RecordWriter(client, target.label)
  const scripts = new ScriptWriter(client, target.label)
  const dumps = opts.raw ? new DumpWriter(opts.raw, target.label) : undefined
  const scripted = await scripts.usable()
  if (opts.raw && typeof image.details.rdbVersion === 'number') {
    await checkTargetReads(opts.raw, image.details.rdbVersion, target.label, String(image.details.redisVersion))
  }
  let bytes = 0
  let skipped = 0
  let viaScript = 0
  let expired = 0
  for await (const stream of image.streams) {
    const context = `the ${stream.name} stream`
    const counted = countBytes(stream.data, (n) => {
      bytes += n
    })
    let index = 0
    for await (const batch of recordBatches(counted, context)) {
      opts.signal?.throwIfAborted()
      for (const body of batch) {
        const keyLength = body.length >= 5 ? body.readUInt32BE(1) : -1
        if (keyLength < 0 || 13 + keyLength > body.length) throw damagedRecord(context, index, 'too short')
        const key = () => body.subarray(5, 5 + keyLength)
        const expireAt = body.readDoubleBE(5 + keyLength)
        index++
        if (opts.keys && !opts.keys.some((p) => matchesPattern(p, key()))) {
          skipped++
          continue
        }
        const ttl = expireAt < 0 ? null : Math.ceil(expireAt - Date.now())
        if (ttl !== null && ttl <= 0) {
          expired++
          continue
        }
        if (isDumpRecord(body)) {
          const payload = dumpPayload(body, keyLength)
          if (!payload) throw damagedRecord(context, index - 1, 'its DUMP payload does not fill it')
          if (dumps) await dumps.add(body, [5, 5 + keyLength], payload, ttl)
          else await writer.addDump(key(), body.subarray(...payload), ttl)
        } else if (scripted && fitsScript(body)) {
          await scripts.add(body, ttl)
          viaScript++
        } else await writer.add(decodeRecord(body, context, index - 1), ttl)
      }
    }
  }
  await scripts.flush()
  await scripts.settle()
  await dumps?.flush()
  await dumps?.settle()
  await writer.flush()
  const counts = {
    keys: writer.written + viaScript + (dumps?.written ?? 0),
    expired: writer.expired + expired,
    skipped,
  }
  return { target: `redis://${target.label}`, bytes, ...counts, counts }
}

/** RefusedError naming the database and its key count, unless it is empty or `force`. */
export async function checkEmpty(client: RedisClient, target: RedisAddress, force?: boolean): Promise<void> {
  const size = await client.dbsize()
  if (size > 0 && !force) {
    throw new RefusedError(
      `Redis database ${target.db} at ${target.host}:${target.port} is not empty: it has ${size} keys`,
      'Restore into an empty database, or pass --force to replace the keys being restored (others stay).',
    )
  }
}

async function* countBytes(data: AsyncIterable<Uint8Array>, add: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of data) {
    add(chunk.byteLength)
    yield chunk
  }
}
