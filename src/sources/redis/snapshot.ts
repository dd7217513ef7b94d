import type { NamedStream, SourceImage, TableInfo } from '../source.js'
import { type RedisAddress, type RedisClient, serverVersion } from './client.js'
import { encodeRecord, formatName, header, type RedisType, redisTypes } from './codec.js'
import { scanKeys } from './keys.js'
import { readRecords } from './read.js'

export const consistency =
  'scan: not a point-in-time image; each key is read atomically, but keys written while the scan ran may appear ' +
  'with their old or new value, and keys created or deleted meanwhile may be missing or present'

/**
 * An image of one Redis database as a single content-chunked stream of records, read one
 * SCAN batch at a time (memory holds one batch). Counts per type fill `tables` and
 * `details` as the stream is read: the backup reads them after the stream's end.
 */
export async function snapshotRedis(
  client: RedisClient,
  address: RedisAddress,
  patterns: string[] | undefined,
): Promise<SourceImage> {
  const started = Date.now()
  const tables: TableInfo[] = []
  const details: SourceImage['details'] = {
    format: formatName,
    server: `${address.host}:${address.port}`,
    db: address.db,
    redisVersion: await serverVersion(client),
    consistency,
    keys: JSON.stringify(patterns ?? ['*']),
  }
  const counts = new Map<RedisType, number>(redisTypes.map((t) => [t, 0]))
  async function* data(): AsyncIterable<Uint8Array> {
    yield header
    for await (const keys of scanKeys(client, patterns)) {
      const records = await readRecords(client, keys)
      for (const r of records) counts.set(r.type, counts.get(r.type)! + 1)
      if (records.length > 0) yield Buffer.concat(records.map(encodeRecord))
    }
    for (const [name, rows] of counts) tables.push({ name, rows })
    details.keyCount = [...counts.values()].reduce((a, b) => a + b, 0)
    details.scanMs = Date.now() - started
  }
  async function* streams(): AsyncIterable<NamedStream> {
    yield { name: 'keys', chunking: { kind: 'cdc' }, data: data() }
  }
  return { position: { time: new Date(started).toISOString() }, tables, details, streams: streams() }
}
