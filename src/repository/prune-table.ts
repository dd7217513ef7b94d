/**
 * The set of blobs that snapshots reference, for pruning: an open-addressing hash table
 * over typed arrays, 9 bytes a slot, so that millions of chunks cost megabytes and no
 * object per chunk. A blob is keyed by the first 8 bytes of its id (ids are SHA-256 or
 * HMAC-SHA-256 outputs, so their bytes are uniform). Two different ids that share those
 * 8 bytes count as one: whichever is referenced keeps both, so a collision can only keep
 * garbage, never lose data.
 */
export const referenced = 1
/** The blob is a chunk list (read while marking). */
export const isList = 2
/** An index file lists the blob (checked after the usage pass: a referenced blob no index lists is damage). */
export const indexed = 4

const occupied = 8

export class BlobTable {
  private lo: Uint32Array
  private hi: Uint32Array
  private flags: Uint8Array
  private count = 0

  constructor(expected = 1024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(1024, expected / 0.6)))
    this.lo = new Uint32Array(capacity)
    this.hi = new Uint32Array(capacity)
    this.flags = new Uint8Array(capacity)
  }

  get size(): number {
    return this.count
  }

  /** Adds the id at `buf[at..at+32]` with `flag`; returns whether it was there already. */
  add(buf: Buffer, at: number, flag: number): boolean {
    if ((this.count + 1) / this.flags.length > 0.7) this.grow()
    const lo = buf.readUInt32LE(at)
    const hi = buf.readUInt32LE(at + 4)
    const slot = this.find(lo, hi)
    const seen = this.flags[slot]! !== 0
    if (!seen) {
      this.lo[slot] = lo
      this.hi[slot] = hi
      this.count++
    }
    this.flags[slot]! |= occupied | flag
    return seen
  }

  /** The flags of the id at `buf[at..at+32]`, 0 when it is not in the table. */
  get(buf: Buffer, at: number): number {
    const flags = this.flags[this.find(buf.readUInt32LE(at), buf.readUInt32LE(at + 4))]!
    return flags & ~occupied
  }

  /** Adds `flag` to an id already in the table (nothing when it is not). */
  flag(buf: Buffer, at: number, flag: number): void {
    const slot = this.find(buf.readUInt32LE(at), buf.readUInt32LE(at + 4))
    if (this.flags[slot]! !== 0) this.flags[slot]! |= flag
  }

  /** How many blobs in the table lack `flag`. */
  countWithout(flag: number): number {
    let n = 0
    for (const f of this.flags) if (f !== 0 && (f & flag) === 0) n++
    return n
  }

  /** The slot of (lo, hi), or the empty slot where it would go (linear probing). */
  private find(lo: number, hi: number): number {
    const mask = this.flags.length - 1
    let slot = lo & mask
    while (this.flags[slot]! !== 0 && (this.lo[slot] !== lo || this.hi[slot] !== hi)) slot = (slot + 1) & mask
    return slot
  }

  private grow(): void {
    const { lo, hi, flags } = this
    this.lo = new Uint32Array(flags.length * 2)
    this.hi = new Uint32Array(flags.length * 2)
    this.flags = new Uint8Array(flags.length * 2)
    for (let i = 0; i < flags.length; i++) {
      if (flags[i] === 0) continue
      const slot = this.find(lo[i]!, hi[i]!)
      this.lo[slot] = lo[i]!
      this.hi[slot] = hi[i]!
      this.flags[slot] = flags[i]!
    }
  }
}
