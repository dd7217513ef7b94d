import { RefusedError } from '../../errors.js'
import type { RestoreOptions, RestoreResult, StoredImage } from '../source.js'
import type { RedisAddress, RedisClient } from './client.js'
import { decodeRecords } from './codec.js'
import { matchesPattern } from './keys.js'
import { RecordWriter } from './write.js'

export interface RedisRestoreOptions extends RestoreOptions {
  /** Restore only keys matching one of these patterns. */
  keys?: string[]
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
 */
export async function restoreRedis(
  image: StoredImage,
  client: RedisClient,
  target: RedisAddress,
  opts: RedisRestoreOptions = {},
): Promise<RedisRestoreResult> {
  await checkEmpty(client, target, opts.force)
  const writer = new RecordWriter(client, target.label)
  let bytes = 0
  let skipped = 0
  for await (const stream of image.streams) {
    const counted = countBytes(stream.data, (n) => {
      bytes += n
    })
    for await (const record of decodeRecords(counted, `the ${stream.name} stream`)) {
      opts.signal?.throwIfAborted()
      if (opts.keys && !opts.keys.some((p) => matchesPattern(p, record.key))) skipped++
      else await writer.add(record)
    }
  }
  await writer.flush()
  const counts = { keys: writer.written, expired: writer.expired, skipped }
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
