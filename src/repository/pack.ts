import { IntegrityError } from '../errors.js'
import { decode, encode } from './compress.js'
import { sha256 } from './hash.js'

/**
 * A pack is many encoded blobs in one object, followed by a trailer that lists them, so
 * that a lost index can be rebuilt from the packs alone:
 *
 *   blob 0 | blob 1 | … | entries (44 bytes each) | u32 entry count | "DRKPACK1"
 *
 * An entry is: blob id (32 bytes, SHA-256 of the plaintext) | u32 offset | u32 length | u32 raw length.
 */
export interface PackEntry {
  /** Hex SHA-256 of the blob's plaintext. */
  id: string
  offset: number
  /** Encoded (stored) length. */
  length: number
  /** Plaintext length. */
  rawLength: number
}

export const entrySize = 44
const magic = Buffer.from('DRKPACK1')

export function writeEntries(entries: PackEntry[], out: Buffer, at: number): number {
  let pos = at
  for (const e of entries) {
    out.write(e.id, pos, 32, 'hex')
    out.writeUInt32BE(e.offset, pos + 32)
    out.writeUInt32BE(e.length, pos + 36)
    out.writeUInt32BE(e.rawLength, pos + 40)
    pos += entrySize
  }
  return pos
}

export function readEntry(buf: Buffer, at: number): PackEntry {
  return {
    id: buf.toString('hex', at, at + 32),
    offset: buf.readUInt32BE(at + 32),
    length: buf.readUInt32BE(at + 36),
    rawLength: buf.readUInt32BE(at + 40),
  }
}

/** Collects encoded blobs until the pack is big enough, then hands out the finished bytes. */
export class PackBuilder {
  private parts: Uint8Array[] = []
  private entries: PackEntry[] = []
  private bytes = 0

  get size(): number {
    return this.bytes
  }

  get count(): number {
    return this.entries.length
  }

  /** Adds one blob; returns its encoded length. */
  add(id: string, plain: Uint8Array): number {
    const stored = encode(plain)
    this.entries.push({ id, offset: this.bytes, length: stored.length, rawLength: plain.length })
    this.parts.push(stored)
    this.bytes += stored.length
    return stored.length
  }

  /** The pack's bytes, its id (SHA-256 of the bytes) and entries; the builder is empty afterwards. */
  finish(): { id: string; bytes: Uint8Array; entries: PackEntry[] } {
    const trailer = Buffer.alloc(this.entries.length * entrySize + 4 + magic.length)
    const end = writeEntries(this.entries, trailer, 0)
    trailer.writeUInt32BE(this.entries.length, end)
    magic.copy(trailer, end + 4)
    const bytes = Buffer.concat([...this.parts, trailer])
    const entries = this.entries
    this.parts = []
    this.entries = []
    this.bytes = 0
    return { id: sha256(bytes), bytes, entries }
  }
}

/** Reads the entries from a pack's trailer (used by verify and index rebuilds). */
export function readPackEntries(pack: Uint8Array, packId: string): PackEntry[] {
  const buf = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength)
  const tail = buf.length - magic.length
  if (tail < 4 || !buf.subarray(tail).equals(magic)) throw new IntegrityError(`pack ${packId} has no valid trailer`)
  const count = buf.readUInt32BE(tail - 4)
  const start = tail - 4 - count * entrySize
  if (start < 0) throw new IntegrityError(`pack ${packId} has a damaged trailer`)
  const entries: PackEntry[] = []
  for (let i = 0; i < count; i++) entries.push(readEntry(buf, start + i * entrySize))
  return entries
}

/** Decodes one blob read from a pack and checks that its plaintext hashes to its id. */
export function openBlob(stored: Uint8Array, id: string, where: string): Uint8Array {
  const plain = decode(stored, `chunk ${id.slice(0, 12)} in ${where}`)
  if (sha256(plain) !== id) {
    throw new IntegrityError(`chunk ${id.slice(0, 12)} in ${where} does not match its hash: the stored data is damaged`)
  }
  return plain
}
