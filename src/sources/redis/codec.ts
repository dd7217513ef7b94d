import { IntegrityError } from '../../errors.js'
import { dumpCode } from './dump.js'
import { decodeDumpPayload } from './rdb.js'

/**
 * The record format of a Redis image: a header, then one length-prefixed binary record per
 * key (type, key, absolute expiry, value). Everything is bytes with explicit lengths, so
 * binary keys and values survive; see docs/REDIS.md.
 */
export const header = Buffer.from('DRKREDIS\x01', 'latin1')
export const formatName = 'drkit-redis-records/1'

export interface StreamEntry {
  id: string
  fields: [Buffer, Buffer][]
}

export type RedisValue =
  | { type: 'string'; value: Buffer }
  | { type: 'hash'; value: [Buffer, Buffer][] }
  | { type: 'list' | 'set'; value: Buffer[] }
  /** Scores as Redis prints them ("1.5", "inf"), so that they survive exactly. */
  | { type: 'zset'; value: [Buffer, string][] }
  | { type: 'stream'; value: { lastId: string; entries: StreamEntry[] } }

export type RedisType = RedisValue['type']
export const redisTypes: RedisType[] = ['string', 'hash', 'list', 'set', 'zset', 'stream']

/** One key: `expireAt` is an absolute time in ms since the epoch, or null for no expiry. */
export type KeyRecord = { key: Buffer; expireAt: number | null } & RedisValue

class Writer {
  parts: Buffer[] = []
  u32(n: number) {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    this.parts.push(b)
  }
  f64(n: number) {
    const b = Buffer.alloc(8)
    b.writeDoubleBE(n)
    this.parts.push(b)
  }
  bytes(data: Buffer | string) {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.u32(b.length)
    this.parts.push(b)
  }
  pair(a: Buffer | string, b: Buffer | string) {
    this.bytes(a)
    this.bytes(b)
  }
}

/** The record's body (without the length prefix): also the canonical form fingerprints hash. */
export function encodeBody(r: KeyRecord): Buffer {
  const w = new Writer()
  w.parts.push(Buffer.of(redisTypes.indexOf(r.type)))
  w.bytes(r.key)
  w.f64(r.expireAt ?? -1)
  switch (r.type) {
    case 'string':
      w.bytes(r.value)
      break
    case 'hash':
      w.u32(r.value.length)
      for (const [f, v] of r.value) w.pair(f, v)
      break
    case 'list':
    case 'set':
      w.u32(r.value.length)
      for (const m of r.value) w.bytes(m)
      break
    case 'zset':
      w.u32(r.value.length)
      for (const [m, s] of r.value) w.pair(m, s)
      break
    case 'stream':
      w.bytes(r.value.lastId)
      w.u32(r.value.entries.length)
      for (const e of r.value.entries) {
        w.bytes(e.id)
        w.u32(e.fields.length)
        for (const [f, v] of e.fields) w.pair(f, v)
      }
      break
  }
  return Buffer.concat(w.parts)
}

export function encodeRecord(r: KeyRecord): Buffer {
  const body = encodeBody(r)
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64BE(BigInt(body.length))
  return Buffer.concat([prefix, body])
}

class Reader {
  at = 0
  constructor(readonly buf: Buffer) {}
  u32() {
    this.at += 4
    return this.buf.readUInt32BE(this.at - 4)
  }
  f64() {
    this.at += 8
    return this.buf.readDoubleBE(this.at - 8)
  }
  bytes() {
    const n = this.u32()
    if (this.at + n > this.buf.length) throw new RangeError('length beyond the record')
    this.at += n
    return this.buf.subarray(this.at - n, this.at)
  }
  text() {
    return this.bytes().toString('utf8')
  }
  many<T>(read: () => T): T[] {
    const n = this.u32()
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(read())
    return out
  }
}

function decodeBody(buf: Buffer): KeyRecord {
  const r = new Reader(buf)
  const code = buf.readUInt8(0)
  r.at = 1
  const key = r.bytes()
  const at = r.f64()
  const expireAt = at < 0 ? null : at
  if (code >= dumpCode && code < dumpCode + redisTypes.length) {
    const value = decodeDumpPayload(r.bytes())
    if (value.type !== redisTypes[code - dumpCode])
      throw new RangeError(`a ${value.type} payload in a ${redisTypes[code - dumpCode]} record`)
    return { key, expireAt, ...value }
  }
  const type = redisTypes[code]
  const pair = (): [Buffer, Buffer] => [r.bytes(), r.bytes()]
  switch (type) {
    case 'string':
      return { type, key, expireAt, value: r.bytes() }
    case 'hash':
      return { type, key, expireAt, value: r.many(pair) }
    case 'list':
    case 'set':
      return { type, key, expireAt, value: r.many(() => r.bytes()) }
    case 'zset':
      return { type, key, expireAt, value: r.many((): [Buffer, string] => [r.bytes(), r.text()]) }
    case 'stream': {
      const lastId = r.text()
      const entries = r.many(() => ({ id: r.text(), fields: r.many(pair) }))
      return { type, key, expireAt, value: { lastId, entries } }
    }
    default:
      throw new RangeError(`unknown type code ${buf.readUInt8(0)}`)
  }
}

/** Bytes arriving in chunks, taken from the front, copied only when a piece straddles two chunks. */
class ByteQueue {
  private chunks: Buffer[] = []
  length = 0
  push(chunk: Uint8Array) {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    this.length += chunk.byteLength
  }
  take(n: number): Buffer {
    this.length -= n
    const first = this.chunks[0]!
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const head = this.chunks[0]!
      const used = Math.min(head.length, n - filled)
      head.copy(out, filled, 0, used)
      filled += used
      if (used === head.length) this.chunks.shift()
      else this.chunks[0] = head.subarray(used)
    }
    return out
  }
  /** Whether the next `n` bytes are in the queue. */
  has(n: number) {
    return this.length >= n
  }
  /** The first chunk (the queue must not be empty). */
  get front(): Buffer {
    return this.chunks[0]!
  }
  /** Puts bytes back in front. */
  unshift(bytes: Buffer) {
    this.chunks.unshift(bytes)
    this.length += bytes.length
  }
}

/**
 * The bodies of an image stream's records (without their length prefix), a batch at a time
 * (those complete in what the stream has delivered so far). A body may share memory with the
 * stream's chunks: callers read it and must not write to it. IntegrityError when the stream
 * is not a Redis image or ends inside a record.
 */
export async function* recordBatches(data: AsyncIterable<Uint8Array>, context: string): AsyncIterable<Buffer[]> {
  const queue = new ByteQueue()
  let index = 0
  let started = false
  for await (const chunk of data) {
    queue.push(chunk)
    if (!started) {
      if (!queue.has(header.length)) continue
      if (!queue.take(header.length).equals(header)) throw new IntegrityError(`${context} is not a drkit Redis image`)
      started = true
    }
    const batch: Buffer[] = []
    while (queue.has(8)) {
      const size = peekSize(queue)
      if (!queue.has(8 + size)) break
      queue.take(8)
      batch.push(queue.take(size))
      index++
    }
    if (batch.length > 0) yield batch
  }
  if (!started) throw new IntegrityError(`${context} is not a drkit Redis image`)
  if (queue.length > 0) throw damagedRecord(context, index, 'the stream ends inside it')
}

function peekSize(queue: ByteQueue): number {
  const first = queue.front
  if (first.length >= 8) return first.readUInt32BE(0) * 2 ** 32 + first.readUInt32BE(4)
  // The length prefix straddles two chunks: take it (copied), then put it back in front.
  const prefix = Buffer.from(queue.take(8))
  queue.unshift(prefix)
  return Number(prefix.readBigUInt64BE())
}

/** The bodies of an image stream's records, one at a time (see `recordBatches`). */
export async function* recordBodies(data: AsyncIterable<Uint8Array>, context: string): AsyncIterable<Buffer> {
  for await (const batch of recordBatches(data, context)) yield* batch
}

export function damagedRecord(context: string, index: number, why: string): IntegrityError {
  return new IntegrityError(`${context}: record ${index} is damaged (${why})`)
}

/** One record from its body; IntegrityError naming the record when the bytes are not one. */
export function decodeRecord(body: Buffer, context: string, index: number): KeyRecord {
  try {
    return decodeBody(body)
  } catch (err) {
    if (err instanceof RangeError) throw damagedRecord(context, index, err.message)
    throw err
  }
}

/** The records of an image stream, one at a time; IntegrityError when the bytes are not records. */
export async function* decodeRecords(data: AsyncIterable<Uint8Array>, context: string): AsyncIterable<KeyRecord> {
  let index = 0
  for await (const body of recordBodies(data, context)) yield decodeRecord(body, context, index++)
}
