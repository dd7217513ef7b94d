import { IntegrityError } from '../errors.js'
import { decode, encode } from './compress.js'
import { entrySize, type PackEntry, readEntry, writeEntries } from './pack.js'

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
 * are written. An index file is encoded binary:
 *   repeated: pack id (32 bytes) | u32 entry count | entries (48 bytes each, as in a pack trailer)
 */
export class PackIndex {
  private readonly blobs = new Map<string, BlobLocation>()
  private readonly packs = new Map<string, number>()

  get blobCount(): number {
    return this.blobs.size
  }

  has(id: string): boolean {
    return this.blobs.has(id)
  }

  get(id: string): BlobLocation | undefined {
    return this.blobs.get(id)
  }

  get packCount(): number {
    return this.packs.size
  }

  packIds(): IterableIterator<string> {
    return this.packs.keys()
  }

  /** The blobs the index places in each pack (for reading whole packs in verify). */
  blobsByPack(): Map<string, { id: string; at: BlobLocation }[]> {
    const byPack = new Map<string, { id: string; at: BlobLocation }[]>()
    for (const [id, at] of this.blobs) {
      const list = byPack.get(at.pack) ?? []
      if (list.length === 0) byPack.set(at.pack, list)
      list.push({ id, at })
    }
    return byPack
  }

  add(pack: IndexedPack): void {
    this.packs.set(pack.id, pack.entries.length)
    for (const e of pack.entries) {
      if (!this.blobs.has(e.id)) {
        this.blobs.set(e.id, {
          pack: pack.id,
          offset: e.offset,
          length: e.length,
          inner: e.inner,
          rawLength: e.rawLength,
        })
      }
    }
  }
}

export function encodeIndexFile(packs: IndexedPack[]): Uint8Array {
  const size = packs.reduce((n, p) => n + 36 + p.entries.length * entrySize, 0)
  const buf = Buffer.alloc(size)
  let pos = 0
  for (const p of packs) {
    buf.write(p.id, pos, 32, 'hex')
    buf.writeUInt32BE(p.entries.length, pos + 32)
    pos = writeEntries(p.entries, buf, pos + 36)
  }
  return encode(buf)
}

export function decodeIndexFile(stored: Uint8Array, name: string): IndexedPack[] {
  const plain = decode(stored, `index ${name}`)
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
  const packs: IndexedPack[] = []
  let pos = 0
  while (pos < buf.length) {
    if (pos + 36 > buf.length) throw new IntegrityError(`index ${name} is truncated`)
    const id = buf.toString('hex', pos, pos + 32)
    const count = buf.readUInt32BE(pos + 32)
    pos += 36
    if (pos + count * entrySize > buf.length) throw new IntegrityError(`index ${name} is truncated`)
    const entries: PackEntry[] = []
    for (let i = 0; i < count; i++) entries.push(readEntry(buf, pos + i * entrySize))
    pos += count * entrySize
    packs.push({ id, entries })
  }
  return packs
}
