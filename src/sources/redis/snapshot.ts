import type { NamedStream, SourceImage, TableInfo } from '../source.js'
import { BatchReader, type EncodedBatch } from './batch-read.js'
import { type RedisAddress, type RedisClient, serverVersion } from './client.js'
import { formatName, header, type RedisType, redisTypes } from './codec.js'
import { DumpReader } from './dump-read.js'
import { scanKeys } from './keys.js'
import type { RawConnection } from './raw.js'

export const consistency =
  'scan: not a point-in-time image; each key is read atomically, but keys written while the scan ran may appear ' +
  'with their old or new value, and keys created or deleted meanwhile may be missing or present'

/** SCAN batches being read while the current one is stored (more did not go faster, and took more memory). */
const readAhead = 1

/**
 * An image of one Redis database as a single content-chunked stream of records, read one
 * SCAN batch at a time (memory holds two batches: the next one is read from the server
 * while the repository stores the current one). Counts per type fill `tables` and
 * `details` as the stream is read: the backup reads them after the stream's end.
 *
 * Given a bare connection (`dump`), keys are stored as DUMP payloads (dump.ts) where the
 * server allows DUMP, in portable records otherwise. `details.form` says which form the
 * image holds (`dump` as soon as one key is), `details.dumpKeys` how many keys are payloads
 * and `details.rdbVersion` their RDB version.
 */
export async function snapshotRedis(
  client: RedisClient,
  address: RedisAddress,
  patterns: string[] | undefined,
  dump?: RawConnection,
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
    const portable = new BatchReader(client)
    let dumps = dump ? new DumpReader(dump) : undefined
    const read = async (keys: Buffer[]): Promise<EncodedBatch> => {
      const dumped = await dumps?.read(keys)
      if (!dumped) {
        // DUMP refused on the first batch: the whole image is portable.
        dumps = undefined
        return portable.read(keys)
      }
      if (dumped.others.length === 0) return dumped.batch
      const rest = await portable.read(dumped.others)
      for (const [type, n] of rest.counts) dumped.batch.counts.set(type, (dumped.batch.counts.get(type) ?? 0) + n)
      return { records: Buffer.concat([dumped.batch.records, rest.records]), counts: dumped.batch.counts }
    }
    // The next batch is read while the current one is stored.
    const batches = scanKeys(client, patterns)[Symbol.asyncIterator]()
    const ahead: Promise<EncodedBatch>[] = []
    let scanned = false
    const fill = async () => {
      while (!scanned && ahead.length < readAhead) {
        const r = await batches.next()
        if (r.done) scanned = true
        else {
          const reading = read(r.value)
          // An abandoned read-ahead must not end the process with an unhandled rejection.
          reading.catch(() => undefined)
          ahead.push(reading)
        }
      }
    }
    for (await fill(); ahead.length > 0; await fill()) {
      const batch = await ahead.shift()!
      for (const [type, n] of batch.counts) counts.set(type, counts.get(type)! + n)
      if (batch.records.length > 0) yield batch.records
    }
    for (const [name, rows] of counts) tables.push({ name, rows })
    details.keyCount = [...counts.values()].reduce((a, b) => a + b, 0)
    details.scanMs = Date.now() - started
    details.readBy = dumps
      ? 'DUMP and PTTL (one MULTI/EXEC per SCAN batch)'
      : portable.scripted
        ? 'script (one EVAL per SCAN batch)'
        : 'per key (pipelined)'
    details.form = dumps && dumps.dumped > 0 ? 'dump' : 'portable'
    if (dumps && dumps.dumped > 0) {
      details.dumpKeys = dumps.dumped
      details.rdbVersion = dumps.rdbVersion ?? -1
    }
  }
  async function* streams(): AsyncIterable<NamedStream> {
    yield { name: 'keys', chunking: { kind: 'cdc' }, data: data() }
  }
  return { position: { time: new Date(started).toISOString() }, tables, details, streams: streams() }
}
