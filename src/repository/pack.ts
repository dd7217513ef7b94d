import { IntegrityError } from '../errors.js'
import { decode } from './compress.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { sha256 } from './hash.js'

/**
 * A pack is many blobs in one object. Blobs are grouped into frames of about 64 KiB that
 * are compressed as one (small pages compress poorly, and slowly, one by one), followed
 * by a trailer that lists every blob, so that a lost index can be rebuilt from the packs:
 *
 *   frame 0 | frame 1 | … | entries (48 bytes each) | u32 entry count | "DRKPACK1"
 *   frame = encoded (flag byte + payload) concatenation of its blobs' plaintexts
 *   entry = blob id (32 bytes, SHA-256 of the plaintext) | u32 frame offset | u32 frame length
 *           | u32 offset of the blob in the frame's plaintext | u32 blob length
 *
 * In an encrypted repository frames are sealed (frames.js), blob ids are keyed hashes, and
 * the entries are sealed too, so that blob sizes stay hidden:
 *
 *   frame 0 | … | sealed entries | u32 sealed length | "DRKPACKE"
 */
export interface PackEntry {
  /** Hex SHA-256 of the blob's plaintext. */
  id: string
  /** Where the blob's frame is in the pack, and its stored length. */
  offset: number
  length: number
  /** Where the blob is in the frame's plaintext, and its plaintext length. */
  inner: number
  rawLength: number
}

export const entrySize = 48
const magic = Buffer.from('DRKPACK1')
const sealedMagic = Buffer.from('DRKPACKE')
/** A frame is sealed once it holds this much plaintext. */
export const frameSize = 64 * 1024

export function writeEntries(entries: PackEntry[], out: Buffer, at: number): number {
  let pos = at
  for (const e of entries) {
    out.write(e.id, pos, 32, 'hex')
    out.writeUInt32BE(e.offset, pos + 32)
    out.writeUInt32BE(e.length, pos + 36)
    out.writeUInt32BE(e.inner, pos + 40)
    out.writeUInt32BE(e.rawLength, pos + 44)
    pos += entrySize
  }
  return pos
}

export function readEntry(buf: Buffer, at: number): PackEntry {
  return {
    id: buf.toString('hex', at, at + 32),
    offset: buf.readUInt32BE(at + 32),
    length: buf.readUInt32BE(at + 36),
    inner: buf.readUInt32BE(at + 40),
    rawLength: buf.readUInt32BE(at + 44),
  }
}

/**
 * Compresses a frame's plaintext into its stored form; the frame pool does it off the main
 * thread. `handOver` says the builder made `plain` and will not touch it again.
 */
export type SealFrame = (plain: Uint8Array, handOver: boolean) => Promise<Uint8Array>

/**
 * Collects blobs into frames and frames into a pack, until the pack is big enough.
 * Frames are sealed asynchronously and laid out in the order they were cut.
 */
export class PackBuilder {
  /** The stored frames so far, one after the other (`bytes` of it are used): copied in as they are sealed. */
  private body: Buffer = Buffer.alloc(0)
  private entries: PackEntry[] = []
  private bytes = 0
  /** Plaintext and stored bytes of every frame sealed so far, in every pack: the compression ratio. */
  private raw = 0
  private stored = 0
  private sealing: { stored: Promise<Uint8Array>; blobs: { id: string; rawLength: number }[]; raw: number }[] = []
  private sealingRaw = 0
  private open: { id: string; plain: Uint8Array }[] = []
  private openBytes = 0
  /** A finished pack's buffer, given back once stored, for the next pack (see `recycle`). */
  private spare: Buffer<ArrayBuffer> | undefined

  constructor(
    private readonly seal: SealFrame,
    /** Seals the trailer in an encrypted repository; frames are sealed by `seal`. */
    private readonly codec: Codec = plainCodec,
    /** About how large a finished pack gets: the size of the buffer a pack starts with. */
    private readonly expectedSize = 1024 * 1024,
  ) {}

  /** Stored bytes so far; frames still being sealed count at the compression ratio seen so far. */
  get size(): number {
    const ratio = this.raw > 0 ? this.stored / this.raw : 0.5
    return this.bytes + (this.sealingRaw + this.openBytes) * ratio
  }

  get count(): number {
    return this.entries.length + this.sealing.reduce((n, f) => n + f.blobs.length, 0) + this.open.length
  }

  /** Adds one blob. `alone` gives it a frame of its own (metadata, so that damage to data spares it). */
  add(id: string, plain: Uint8Array, opts: { alone?: boolean } = {}): void {
    if (opts.alone) this.cutFrame()
    this.open.push({ id, plain })
    this.openBytes += plain.length
    if (opts.alone || this.openBytes >= frameSize) this.cutFrame()
  }

  /** Adds a frame sealed by the caller, after every blob added so before, with the blobs it holds in order. */
  addSealed(blobs: { id: string; rawLength: number }[], stored: Promise<Uint8Array>): void {
    this.cutFrame()
    // A failure is reported by settle(); until then it must not count as unhandled.
    stored.catch(() => undefined)
    const raw = blobs.reduce((n, b) => n + b.rawLength, 0)
    this.sealing.push({ stored, blobs, raw })
    this.sealingRaw += raw
  }

  /** Waits until at most `limit` frames are being sealed. */
  async settle(limit: number): Promise<void> {
    while (this.sealing.length > limit) {
      const frame = this.sealing.shift()!
      const stored = await frame.stored
      let inner = 0
      for (const { id, rawLength } of frame.blobs) {
        this.entries.push({ id, offset: this.bytes, length: stored.length, inner, rawLength })
        inner += rawLength
      }
      this.append(stored)
      this.raw += frame.raw
      this.stored += stored.length
      this.sealingRaw -= frame.raw
    }
  }

  private cutFrame(): void {
    if (this.open.length === 0) return
    const blobs = this.open.map((b) => ({ id: b.id, rawLength: b.plain.length }))
    const joined = this.open.length > 1
    const plain = joined ? Buffer.concat(this.open.map((b) => b.plain)) : this.open[0]!.plain
    const raw = plain.length
    const stored = this.seal(plain, joined)
    // A failure is reported by settle(); until then it must not count as unhandled.
    stored.catch(() => undefined)
    this.sealing.push({ stored, blobs, raw })
    this.sealingRaw += raw
    this.open = []
    this.openBytes = 0
  }

  /** The pack's bytes, its id (SHA-256 of the bytes) and entries; the builder is empty afterwards. */
  async finish(): Promise<{ id: string; bytes: Uint8Array; entries: PackEntry[] }> {
    this.cutFrame()
    await this.settle(0)
    this.append(this.trailer())
    const bytes = this.body.subarray(0, this.bytes)
    const entries = this.entries
    this.body = Buffer.alloc(0)
    this.entries = []
    this.bytes = 0
    return { id: sha256(bytes), bytes, entries }
  }

  /**
   * Takes back the buffer of a pack that `finish` gave and the backend has stored (a backend
   * keeps no reference to what it was given). Packs are built in two buffers taken in turn
   * instead of a new one each: freeing a buffer of a pack's size made glibc raise its mmap
   * threshold past the page batches and runs, which then came from a heap that kept about
   * 45 MiB it no longer used (a 1 GiB SQLite backup).
   */
  recycle(bytes: Uint8Array): void {
    if (this.spare || bytes.buffer.byteLength < this.expectedSize) return
    this.spare = Buffer.from(bytes.buffer as ArrayBuffer)
  }

  /** One buffer per pack, not a list of frames joined at the end: half the memory of a pack being finished. */
  private append(stored: Uint8Array): void {
    if (this.bytes === 0 && this.body.length === 0 && this.spare) {
      this.body = this.spare
      this.spare = undefined
    }
    if (this.bytes + stored.length > this.body.length) {
      const size = Math.max(this.expectedSize, 2 * this.body.length, this.bytes + stored.length)
      // Unfilled memory is never read: only the first `bytes` are used, each written before.
      const grown = Buffer.allocUnsafeSlow(size)
      this.body.copy(grown, 0, 0, this.bytes)
      this.body = grown
    }
    this.body.set(stored, this.bytes)
    this.bytes += stored.length
  }

  private trailer(): Buffer {
    return packTrailer(this.entries, this.codec)
  }
}

/** A pack's trailer: its entry list (sealed in an encrypted repository), the list's size, the magic. */
export function packTrailer(entries: PackEntry[], codec: Codec): Buffer {
  const list = Buffer.alloc(entries.length * entrySize)
  writeEntries(entries, list, 0)
  const tail = Buffer.alloc(4)
  if (!codec.encrypted) {
    tail.writeUInt32BE(entries.length)
    return Buffer.concat([list, tail, magic])
  }
  const sealed = codec.encode(list)
  tail.writeUInt32BE(sealed.length)
  return Buffer.concat([sealed, tail, sealedMagic])
}

/** Reads the entries from a pack's trailer (used by verify and index rebuilds). */
export function readPackEntries(pack: Uint8Array, packId: string, codec: Codec = plainCodec): PackEntry[] {
  const buf = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength)
  const tail = buf.length - magic.length
  const expected = codec.encrypted ? sealedMagic : magic
  if (tail < 4 || !buf.subarray(tail).equals(expected)) throw new IntegrityError(`pack ${packId} has no valid trailer`)
  if (codec.encrypted) return readSealedEntries(buf, tail, packId, codec)
  const count = buf.readUInt32BE(tail - 4)
  const start = tail - 4 - count * entrySize
  if (start < 0) throw new IntegrityError(`pack ${packId} has a damaged trailer`)
  const entries: PackEntry[] = []
  for (let i = 0; i < count; i++) entries.push(readEntry(buf, start + i * entrySize))
  return entries
}

function readSealedEntries(buf: Buffer, tail: number, packId: string, codec: Codec): PackEntry[] {
  const start = tail - 4 - buf.readUInt32BE(tail - 4)
  if (start < 0) throw new IntegrityError(`pack ${packId} has a damaged trailer`)
  const plain = decode(buf.subarray(start, tail - 4), `the trailer of pack ${packId}`, codec)
  const list = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
  if (list.length % entrySize !== 0) throw new IntegrityError(`pack ${packId} has a damaged trailer`)
  return Array.from({ length: list.length / entrySize }, (_, i) => readEntry(list, i * entrySize))
}
