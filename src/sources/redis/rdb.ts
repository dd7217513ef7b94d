import { DrkitError } from '../../errors.js'
import type { RedisValue, StreamEntry } from './codec.js'

/**
 * Reads a `DUMP` payload (a value in Redis's RDB serialisation) back into a portable value,
 * so that a snapshot taken in the dump form can be exported as JSON without a server.
 * Covers the encodings Redis 2.6 to 7.2 write: plain and LZF strings, ziplists, listpacks,
 * intsets, quicklists and stream listpacks. A payload of another type (a module's, or the
 * hash with field expiries of Redis 7.4) is refused with what to do instead. The payload's
 * trailing RDB version and checksum are not checked here: the repository already checked
 * the bytes against their hash.
 */
export function decodeDumpPayload(payload: Buffer): RedisValue {
  const r = new RdbReader(payload.subarray(0, payload.length - 10))
  const type = r.byte()
  switch (type) {
    case 0:
      return { type: 'string', value: r.string() }
    case 1:
    case 2:
      return { type: type === 1 ? 'list' : 'set', value: r.many(() => r.string()) }
    case 3:
      return { type: 'zset', value: r.many(() => [r.string(), r.textDouble()]) }
    case 5:
      return { type: 'zset', value: r.many(() => [r.string(), scoreText(r.binaryDouble())]) }
    case 4:
      return { type: 'hash', value: r.many(() => [r.string(), r.string()]) }
    case 10:
      return { type: 'list', value: ziplist(r.string()) }
    case 11:
      return { type: 'set', value: intset(r.string()) }
    case 12:
      return { type: 'zset', value: pairs(ziplist(r.string())).map(([m, s]) => [m, scoreText(parseScore(s))]) }
    case 13:
      return { type: 'hash', value: pairs(ziplist(r.string())) }
    case 14:
      return { type: 'list', value: r.many(() => ziplist(r.string())).flat() }
    case 16:
      return { type: 'hash', value: pairs(listpack(r.string())) }
    case 17:
      return { type: 'zset', value: pairs(listpack(r.string())).map(([m, s]) => [m, scoreText(parseScore(s))]) }
    case 18:
      return { type: 'list', value: quicklist2(r) }
    case 20:
      return { type: 'set', value: listpack(r.string()) }
    case 15:
    case 19:
    case 21:
      return { type: 'stream', value: stream(r) }
    default:
      throw new DrkitError(
        `a value of RDB object type ${type} (a module's type, or one newer than drkit knows) cannot be read outside Redis`,
        'Restore the snapshot into Redis instead, or set `form: portable` on the resource and back up again to export it.',
      )
  }
}

/** A score as Redis prints it: the shortest text that reads back as the same double. */
function scoreText(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return 'inf'
  if (n === Number.NEGATIVE_INFINITY) return '-inf'
  return String(n)
}

/** A score stored as text ("1.5", "inf", "-inf"). */
function parseScore(text: Buffer): number {
  const s = text.toString('latin1').toLowerCase()
  if (s === 'inf' || s === '+inf') return Number.POSITIVE_INFINITY
  if (s === '-inf') return Number.NEGATIVE_INFINITY
  const n = Number(s)
  if (Number.isNaN(n)) throw new RangeError(`"${s}" is not a score`)
  return n
}

function pairs(items: Buffer[]): [Buffer, Buffer][] {
  if (items.length % 2 !== 0) throw new RangeError('an odd number of elements where pairs belong')
  const out: [Buffer, Buffer][] = []
  for (let i = 0; i < items.length; i += 2) out.push([items[i]!, items[i + 1]!])
  return out
}

class RdbReader {
  at = 0
  constructor(readonly buf: Buffer) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new RangeError('the payload ends early')
    return this.buf[this.at++]!
  }

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new RangeError('the payload ends early')
    this.at += n
    return this.buf.subarray(this.at - n, this.at)
  }

  /** An RDB length; `special` is set for the string encodings (integers, LZF) the top bits 11 mark. */
  length(): { n: number; special: boolean } {
    const b = this.byte()
    switch (b >> 6) {
      case 0:
        return { n: b & 0x3f, special: false }
      case 1:
        return { n: ((b & 0x3f) << 8) | this.byte(), special: false }
      case 2:
        if (b === 0x80) return { n: this.take(4).readUInt32BE(0), special: false }
        if (b === 0x81) return { n: Number(this.take(8).readBigUInt64BE(0)), special: false }
        throw new RangeError(`unknown length encoding ${b}`)
      default:
        return { n: b & 0x3f, special: true }
    }
  }

  count(): number {
    const { n, special } = this.length()
    if (special) throw new RangeError('an encoded string where a length belongs')
    return n
  }

  /** A length that may pass 2^53 (the parts of a stream id). */
  bigCount(): bigint {
    const b = this.buf[this.at]
    if (b === 0x81) {
      this.at++
      return this.take(8).readBigUInt64BE(0)
    }
    return BigInt(this.count())
  }

  string(): Buffer {
    const { n, special } = this.length()
    if (!special) return this.take(n)
    switch (n) {
      case 0:
        return Buffer.from(String(this.take(1).readInt8(0)))
      case 1:
        return Buffer.from(String(this.take(2).readInt16LE(0)))
      case 2:
        return Buffer.from(String(this.take(4).readInt32LE(0)))
      case 3: {
        const compressed = this.count()
        const size = this.count()
        return lzf(this.take(compressed), size)
      }
      default:
        throw new RangeError(`unknown string encoding ${n}`)
    }
  }

  many<T>(read: () => T): T[] {
    const n = this.count()
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(read())
    return out
  }

  /** A score in the old text form: a length byte (253 NaN, 254 +inf, 255 -inf) and that many ASCII bytes. */
  textDouble(): string {
    const n = this.byte()
    if (n === 253) return 'nan'
    if (n === 254) return 'inf'
    if (n === 255) return '-inf'
    return scoreText(parseScore(this.take(n)))
  }

  binaryDouble(): number {
    return this.take(8).readDoubleLE(0)
  }

  millis(): number {
    return Number(this.take(8).readBigUInt64LE(0))
  }
}

/** LZF decompression (liblzf's format), as RDB compresses long strings. */
function lzf(input: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size)
  let i = 0
  let o = 0
  while (i < input.length) {
    const ctrl = input[i++]!
    if (ctrl < 32) {
      const n = ctrl + 1
      if (o + n > size || i + n > input.length) throw new RangeError('LZF literal out of bounds')
      input.copy(out, o, i, i + n)
      i += n
      o += n
    } else {
      let n = ctrl >> 5
      if (n === 7) n += input[i++]!
      n += 2
      const from = o - ((ctrl & 0x1f) << 8) - input[i++]! - 1
      if (from < 0 || o + n > size) throw new RangeError('LZF back reference out of bounds')
      // Byte by byte: a back reference may overlap what it is writing.
      for (let k = 0; k < n; k++) out[o++] = out[from + k]!
    }
  }
  if (o !== size) throw new RangeError('LZF data shorter than announced')
  return out
}

/** A ziplist's entries (strings, integers as their decimal text). */
function ziplist(buf: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 10
  for (;;) {
    if (at >= buf.length) throw new RangeError('ziplist without its end marker')
    if (buf[at] === 0xff) return out
    at += buf[at] === 0xfe ? 5 : 1
    const enc = buf[at]!
    const top = enc >> 6
    if (top === 0) {
      out.push(buf.subarray(at + 1, at + 1 + (enc & 0x3f)))
      at += 1 + (enc & 0x3f)
    } else if (top === 1) {
      const n = ((enc & 0x3f) << 8) | buf[at + 1]!
      out.push(buf.subarray(at + 2, at + 2 + n))
      at += 2 + n
    } else if (top === 2) {
      const n = buf.readUInt32BE(at + 1)
      out.push(buf.subarray(at + 5, at + 5 + n))
      at += 5 + n
    } else {
      const [value, size] = ziplistInt(buf, at)
      out.push(Buffer.from(value.toString()))
      at += size
    }
  }
}

function ziplistInt(buf: Buffer, at: number): [bigint | number, number] {
  const enc = buf[at]!
  switch (enc) {
    case 0xc0:
      return [buf.readInt16LE(at + 1), 3]
    case 0xd0:
      return [buf.readInt32LE(at + 1), 5]
    case 0xe0:
      return [buf.readBigInt64LE(at + 1), 9]
    case 0xf0:
      return [buf.readIntLE(at + 1, 3), 4]
    case 0xfe:
      return [buf.readInt8(at + 1), 2]
    default:
      if (enc > 0xf0 && enc < 0xfe) return [(enc & 0x0f) - 1, 1]
      throw new RangeError(`unknown ziplist encoding ${enc}`)
  }
}

/** A listpack's entries (strings, integers as their decimal text). */
function listpack(buf: Buffer): Buffer[] {
  return listpackValues(buf).map(asBytes)
}

function asBytes(v: Buffer | number | bigint): Buffer {
  return typeof v === 'object' ? v : Buffer.from(v.toString())
}

/** One listpack entry at `at`: its value and the size of its encoding and data (without the back length). */
function listpackEntry(buf: Buffer, at: number): [Buffer | number | bigint, number] {
  const enc = buf[at]!
  if (enc < 0x80) return [enc, 1]
  if (enc >> 6 === 2) {
    const n = enc & 0x3f
    return [buf.subarray(at + 1, at + 1 + n), 1 + n]
  }
  if (enc >> 5 === 6) {
    const raw = ((enc & 0x1f) << 8) | buf[at + 1]!
    return [raw >= 1 << 12 ? raw - (1 << 13) : raw, 2]
  }
  if (enc >> 4 === 14) {
    const n = ((enc & 0x0f) << 8) | buf[at + 1]!
    return [buf.subarray(at + 2, at + 2 + n), 2 + n]
  }
  switch (enc) {
    case 0xf0: {
      const n = buf.readUInt32LE(at + 1)
      return [buf.subarray(at + 5, at + 5 + n), 5 + n]
    }
    case 0xf1:
      return [buf.readInt16LE(at + 1), 3]
    case 0xf2:
      return [buf.readIntLE(at + 1, 3), 4]
    case 0xf3:
      return [buf.readInt32LE(at + 1), 5]
    case 0xf4:
      return [buf.readBigInt64LE(at + 1), 9]
    default:
      throw new RangeError(`unknown listpack encoding ${enc}`)
  }
}

function backlenSize(size: number): number {
  if (size < 128) return 1
  if (size < 16384) return 2
  if (size < 2097152) return 3
  if (size < 268435456) return 4
  return 5
}

/** An intset's members, as decimal text. */
function intset(buf: Buffer): Buffer[] {
  const width = buf.readUInt32LE(0)
  const n = buf.readUInt32LE(4)
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const at = 8 + i * width
    const v = width === 2 ? buf.readInt16LE(at) : width === 4 ? buf.readInt32LE(at) : buf.readBigInt64LE(at)
    out.push(Buffer.from(v.toString()))
  }
  return out
}

/** Quicklist nodes of Redis 7: each a single plain element (1) or a listpack of them (2). */
function quicklist2(r: RdbReader): Buffer[] {
  const nodes = r.count()
  const out: Buffer[] = []
  for (let i = 0; i < nodes; i++) {
    const container = r.count()
    const data = r.string()
    if (container === 1) out.push(data)
    else for (const item of listpack(data)) out.push(item)
  }
  return out
}

/**
 * A stream's entries and last id. Entries live in listpacks keyed by a master id: each
 * listpack starts with the master fields, then every entry as flags, id deltas, and either
 * values for the master fields or its own fields; deleted entries are flagged and skipped.
 * Consumer groups follow in the payload and are not part of the portable form.
 */
function stream(r: RdbReader): { lastId: string; entries: StreamEntry[] } {
  const entries: StreamEntry[] = []
  const nodes = r.count()
  for (let i = 0; i < nodes; i++) {
    const key = r.string()
    const masterMs = key.readBigUInt64BE(0)
    const masterSeq = key.readBigUInt64BE(8)
    const items = listpackValues(r.string())
    let k = 0
    const int = () => BigInt(asBytes(items[k++]!).toString())
    const bytes = () => asBytes(items[k++]!)
    const live = Number(int())
    const deleted = Number(int())
    const masterFields = Array.from({ length: Number(int()) }, bytes)
    k++ // the master entry's terminator
    for (let left = live + deleted; left > 0; left--) {
      const flags = Number(int())
      const id = `${masterMs + int()}-${masterSeq + int()}`
      const fields: [Buffer, Buffer][] =
        flags & 2
          ? masterFields.map((f) => [f, bytes()])
          : Array.from({ length: Number(int()) }, () => [bytes(), bytes()] as [Buffer, Buffer])
      k++ // the entry's element count, for walking backwards
      if (!(flags & 1)) entries.push({ id, fields })
    }
  }
  r.count() // the number of entries
  const lastId = `${r.bigCount()}-${r.bigCount()}`
  return { lastId, entries }
}

/** A listpack's entries as they are stored (integers as numbers), for structures that hold counts and flags. */
function listpackValues(buf: Buffer): (Buffer | number | bigint)[] {
  const out: (Buffer | number | bigint)[] = []
  let at = 6
  while (buf[at] !== 0xff) {
    if (at >= buf.length) throw new RangeError('listpack without its end marker')
    const [value, size] = listpackEntry(buf, at)
    out.push(value)
    at += size + backlenSize(size)
  }
  return out
}
