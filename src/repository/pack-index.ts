import { IntegrityError } from '../errors.js'
import { decode, encode } from './compress.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { IdTable } from './id-table.js'
import { entrySize, type PackEntry, writeEntries } from './pack.js'

/** Where a blob lives: its pack and its place in it. */
export interface BlobLocation {
  pack: string
  /** The blob's frame in the pack. */
  offset: number
  length: number
  /** The blob in the frame's plaintext. */
  inner: number
  rawLength: number
}

export interface IndexedPack {
  id: string
  entries: PackEntry[]
}

/**
 * Which pack holds each blob, loaded from the index files at open and extended as packs
 * are written. Locations and ids live in typed arrays (ids in an `IdTable`), so that
 * millions of blobs fit in little memory and cost the garbage collector nothing.
 *
 * An index file is encoded binary, a record per pack:
 *   pack id (32 bytes) | u32 entry count | entries (48 bytes each, as in a pack trailer)
 */
export class PackIndex {
  private readonly slots = new IdTable()
  private readonly packs: string[] = []
  private readonly packSlots = new Map<string, number>()
  private columns = { pack: new Uint32Array(1024), offset: new Uint32Array(1024), length: new Uint32Array(1024) }
  private frames = { inner: new Uint32Array(1024), rawLength: new Uint32Array(1024) }

  get blobCount(): number {
    return this.slots.size
  }

  get packCount(): number {
    return this.packs.length
  }

  has(id: string): boolean {
    return this.slots.slotOf(Buffer.from(id, 'hex')) >= 0
  }

  get(id: string): BlobLocation | undefined {
    const slot = this.slots.slotOf(Buffer.from(id, 'hex'))
    return slot < 0 ? undefined : this.at(slot)
  }

  /** The slot (0 to blobCount - 1) of the id at `bytes[at..at+32]`, or -1 when no index lists it. */
  slotOf(bytes: Uint8Array, at = 0): number {
    return this.slots.slotOf(bytes, at)
  }

  /**
   * Where the blob in `slot` is, written into `out` from `at` on, without an object per
   * blob: the pack's number (see `packId`), the frame's offset and stored length, the blob's
   * start in the frame's plaintext and its length.
   */
  placeOfSlot(slot: number, out: Uint32Array, at: number): void {
    out[at] = this.columns.pack[slot]!
    out[at + 1] = this.columns.offset[slot]!
    out[at + 2] = this.columns.length[slot]!
    out[at + 3] = this.frames.inner[slot]!
    out[at + 4] = this.frames.rawLength[slot]!
  }

  /** The plaintext length of the blob in `slot`. */
  rawLengthOfSlot(slot: number): number {
    return this.frames.rawLength[slot]!
  }

  /** The id of the pack numbered `pack` by `placeOfSlot`. */
  packId(pack: number): string {
    return this.packs[pack]!
  }

  /** The pack holding the copy of the blob in `slot` that reads use. */
  packOfSlot(slot: number): string {
    return this.packs[this.columns.pack[slot]!]!
  }

  /**
   * The slots of the blobs the index places in each pack (for reading whole packs in
   * verify): four bytes per blob; `blobsAt` gives one pack's blobs when it is read.
   */
  slotsByPack(): Map<string, Uint32Array> {
    const count = this.slots.size
    const perPack = new Uint32Array(this.packs.length)
    for (let slot = 0; slot < count; slot++) perPack[this.columns.pack[slot]!]!++
    const byPack = new Map<string, Uint32Array>()
    const filled = new Uint32Array(this.packs.length)
    const lists = Array.from(perPack, (n) => new Uint32Array(n))
    for (let slot = 0; slot < count; slot++) {
      const pack = this.columns.pack[slot]!
      lists[pack]![filled[pack]!++] = slot
    }
    lists.forEach((list, pack) => {
      if (list.length > 0) byPack.set(this.packs[pack]!, list)
    })
    return byPack
  }

  /** The blobs in `slots` (one pack's, from `slotsByPack`), with their ids and locations. */
  blobsAt(slots: Uint32Array): { id: string; at: BlobLocation }[] {
    return Array.from(slots, (slot) => ({ id: this.slots.hexOf(slot), at: this.at(slot) }))
  }

  /** Adds every pack of an index file's plaintext; IntegrityError when it is cut short. */
  addRecords(plain: Uint8Array, name: string): void {
    const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
    let pos = 0
    while (pos < buf.length) {
      if (pos + 36 > buf.length) throw new IntegrityError(`index ${name} is truncated`)
      const count = buf.readUInt32BE(pos + 32)
      if (pos + 36 + count * entrySize > buf.length) throw new IntegrityError(`index ${name} is truncated`)
      const packSlot = this.packSlot(buf.toString('hex', pos, pos + 32))
      // The entries' fields are read in place (readEntry would build an object and a hex id per blob).
      for (let i = 0, at = pos + 36; i < count; i++, at += entrySize) this.put(buf, at, packSlot)
      pos += 36 + count * entrySize
    }
  }

  private at(slot: number): BlobLocation {
    const { pack, offset, length } = this.columns
    const { inner, rawLength } = this.frames
    return {
      pack: this.packs[pack[slot]!]!,
      offset: offset[slot]!,
      length: length[slot]!,
      inner: inner[slot]!,
      rawLength: rawLength[slot]!,
    }
  }

  private packSlot(id: string): number {
    let slot = this.packSlots.get(id)
    if (slot === undefined) {
      slot = this.packs.push(id) - 1
      this.packSlots.set(id, slot)
    }
    return slot
  }

  /** The first location seen for a blob wins; later copies (two writers stored it) are ignored. */
  private put(buf: Buffer, at: number, packSlot: number) {
    const { slot, added } = this.slots.add(buf, at)
    if (!added) return
    if (slot === this.columns.pack.length) this.grow()
    this.columns.pack[slot] = packSlot
    this.columns.offset[slot] = buf.readUInt32BE(at + 32)
    this.columns.length[slot] = buf.readUInt32BE(at + 36)
    this.frames.inner[slot] = buf.readUInt32BE(at + 40)
    this.frames.rawLength[slot] = buf.readUInt32BE(at + 44)
  }

  private grow(): void {
    const double = (a: Uint32Array) => {
      const b = new Uint32Array(a.length * 2)
      b.set(a)
      return b
    }
    const { pack, offset, length } = this.columns
    this.columns = { pack: double(pack), offset: double(offset), length: double(length) }
    this.frames = { inner: double(this.frames.inner), rawLength: double(this.frames.rawLength) }
  }
}

/** One pack's record of an index file. */
export function encodeIndexRecord(pack: IndexedPack): Buffer {
  const buf = Buffer.alloc(36 + pack.entries.length * entrySize)
  buf.write(pack.id, 0, 32, 'hex')
  buf.writeUInt32BE(pack.entries.length, 32)
  writeEntries(pack.entries, buf, 36)
  return buf
}

export function encodeIndexFile(records: Buffer[], codec: Codec = plainCodec): Uint8Array {
  // One record list (a backup's) is encoded as it is: a copy of it can be tens of MiB.
  return encode(records.length === 1 ? records[0]! : Buffer.concat(records), codec)
}

export function decodeIndexFile(stored: Uint8Array, name: string, codec: Codec = plainCodec): Uint8Array {
  return decode(stored, `index ${name}`, codec)
}

/** The ids of the packs an index file's plaintext covers. */
export function indexedPackIds(plain: Uint8Array): string[] {
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
  const ids: string[] = []
  for (let pos = 0; pos + 36 <= buf.length; pos += 36 + buf.readUInt32BE(pos + 32) * entrySize) {
    ids.push(buf.toString('hex', pos, pos + 32))
  }
  return ids
}
