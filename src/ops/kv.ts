import { readFile } from 'node:fs/promises'
import { PlanError } from '../errors.js'
import { shortId } from '../repository/index.js'
import { connectRedis, parseRedisUrl } from '../sources/redis/client.js'
import { decodeRecords } from '../sources/redis/codec.js'
import type { RedisConfig } from '../sources/redis/index.js'
import { formatEntry, parseEntries } from '../sources/redis/json.js'
import { checkEmpty } from '../sources/redis/restore.js'
import { RecordWriter } from '../sources/redis/write.js'
import type { OpsContext } from './context.js'

export interface ExportResult {
  resource: string
  snapshot: string
  entries: number
}

/**
 * Writes a Redis snapshot as the portable JSON array, one entry at a time through `write`
 * (which should wait for the output to drain): the array is never whole in memory.
 */
export async function exportKv(
  ctx: OpsContext,
  resource: string,
  opts: { snapshot?: string; write: (text: string) => Promise<void> },
): Promise<ExportResult> {
  redisConfigOf(ctx, resource)
  const repository = await ctx.repository()
  const snapshot = await repository.findSnapshot(resource, opts.snapshot)
  const lock = await repository.lock(resource, 'read', { command: `export ${resource}` })
  try {
    const asOf = Date.parse(snapshot.position.time)
    let entries = 0
    await opts.write('[')
    for (const ref of snapshot.streams) {
      const context = `snapshot ${shortId(snapshot.id)} of ${resource}`
      for await (const record of decodeRecords(repository.readStream(ref, context), context)) {
        await opts.write(`${entries === 0 ? '\n' : ',\n'}${formatEntry(record, asOf)}`)
        entries++
      }
    }
    await opts.write(entries === 0 ? ']\n' : '\n]\n')
    return { resource, snapshot: snapshot.id, entries }
  } finally {
    await lock.release()
  }
}

export interface ImportResult {
  resource: string
  keys: number
}

/**
 * Reads and checks a whole JSON file first (nothing is written when any entry is wrong),
 * then writes its keys into the resource's own database, with TTLs counted from now.
 */
export async function importKv(
  ctx: OpsContext,
  resource: string,
  file: string,
  opts: { force?: boolean } = {},
): Promise<ImportResult> {
  const config = redisConfigOf(ctx, resource)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new PlanError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const entries = parseEntries(text, file)
  const address = parseRedisUrl(config.url, resource)
  const client = await connectRedis(address, resource)
  try {
    await checkEmpty(client, address, opts.force)
    const writer = new RecordWriter(client, address.label)
    for (const { record, ttlMs } of entries) await writer.add(record, ttlMs)
    await writer.flush()
    return { resource, keys: writer.written }
  } finally {
    await client.quit().catch(() => client.disconnect())
  }
}

function redisConfigOf(ctx: OpsContext, resource: string): RedisConfig {
  const r = ctx.resource(resource)
  if (r.type !== 'redis') {
    throw new PlanError(`${resource} is a ${r.type} resource: export and import are for Redis resources`)
  }
  return r.config as RedisConfig
}
