import type { ChainableCommander } from 'ioredis'
import { DrkitError } from '../../errors.js'
import type { RedisClient } from './client.js'
import type { KeyRecord } from './codec.js'

/** Arguments per command for large collections, so that no single command gets huge. */
const slice = 1000

/**
 * Queues the commands that make `record` the key's whole state: DEL (so a replaced key
 * keeps nothing of its old value), the writes for its type, then PEXPIRE with `ttlMs`.
 */
export function queueWrite(p: ChainableCommander, record: KeyRecord, ttlMs: number | null): void {
  const { key } = record
  p.del(key)
  switch (record.type) {
    case 'string':
      p.set(key, record.value)
      break
    case 'hash':
      for (const part of slices(record.value)) p.hset(key, ...part.flat())
      break
    case 'list':
      for (const part of slices(record.value)) p.rpush(key, ...part)
      break
    case 'set':
      for (const part of slices(record.value)) p.sadd(key, ...part)
      break
    case 'zset':
      for (const part of slices(record.value)) p.call('ZADD', key, ...part.flatMap(([m, s]) => [s, m]))
      break
    case 'stream': {
      const { entries, lastId } = record.value
      if (entries.length === 0) {
        // An empty stream exists only through a group created with MKSTREAM.
        p.call('XGROUP', 'CREATE', key, 'drkit-restore', '$', 'MKSTREAM')
        p.call('XGROUP', 'DESTROY', key, 'drkit-restore')
      }
      for (const e of entries) p.call('XADD', key, e.id, ...e.fields.flat())
      p.call('XSETID', key, lastId)
      break
    }
  }
  if (ttlMs !== null) p.pexpire(key, ttlMs)
}

function slices<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += slice) out.push(items.slice(i, i + slice))
  return out
}

/**
 * Writes records in pipelines of about a thousand keys; a record whose expiry has passed
 * by the time it is written is skipped (`expireAt`), or given `ttlMs` from now (imports).
 */
export class RecordWriter {
  private pipeline: ChainableCommander
  private queued = 0
  written = 0
  expired = 0

  constructor(
    private readonly client: RedisClient,
    private readonly where: string,
  ) {
    this.pipeline = client.pipeline()
  }

  async add(record: KeyRecord, ttlMs?: number | null): Promise<void> {
    const ttl = ttlMs !== undefined ? ttlMs : record.expireAt === null ? null : Math.ceil(record.expireAt - Date.now())
    if (ttl !== null && ttl <= 0) {
      this.expired++
      return
    }
    queueWrite(this.pipeline, record, ttl)
    this.written++
    if (++this.queued >= slice) await this.flush()
  }

  /** Writes a DUMP payload with `RESTORE ... REPLACE` (dump.ts), for servers without scripting. */
  async addDump(key: Buffer, payload: Buffer, ttlMs: number | null): Promise<void> {
    this.pipeline.call('RESTORE', key, ttlMs ?? 0, payload, 'REPLACE')
    this.written++
    if (++this.queued >= slice) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.queued === 0) return
    const replies = (await this.pipeline.exec()) ?? []
    this.pipeline = this.client.pipeline()
    this.queued = 0
    const failed = replies.find(([err]) => err)
    if (failed) throw new DrkitError(`writing into Redis at ${this.where} failed: ${failed[0]!.message}`)
  }
}
