/**
 * A set of 32-byte blob ids, each numbered by the order it was added (its slot): an
 * open-addressing hash table over typed arrays, 40 to 80 bytes per id and no object or
 * string per id, so that millions of blobs cost tens of megabytes and nothing for the
 * garbage collector to walk. Ids are SHA-256 or HMAC-SHA-256 outputs, so their first
 * bytes are uniform and serve as the hash; the whole id is compared, so lookups are exact.
 */
export class IdTable {
  private ids = new Uint8Array(32 * 1024)
  /** Per bucket: 0 when empty, else the slot plus one. */
  private buckets = new Uint32Array(2048)
  private count = 0

  get size(): number {
    return this.count
  }

  /** The slot of the id at `bytes[at..at+32]`, or -1 when it is not in the table. */
  slotOf(bytes: Uint8Array, at = 0): number {
    const mask = this.buckets.length - 1
    for (let b = hashOf(bytes, at) & mask; ; b = (b + 1) & mask) {
      const entry = this.buckets[b]!
      if (entry === 0) return -1
      if (this.equals(entry - 1, bytes, at)) return entry - 1
    }
  }

  /** Adds the id at `bytes[at..at+32]` unless it is there; returns its slot and whether it was added. */
  add(bytes: Uint8Array, at = 0): { slot: number; added: boolean } {
    if ((this.count + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2)
    const mask = this.buckets.length - 1
    let b = hashOf(bytes, at) & mask
    for (; ; b = (b + 1) & mask) {
      const entry = this.buckets[b]!
      if (entry === 0) break
      if (this.equals(entry - 1, bytes, at)) return { slot: entry - 1, added: false }
    }
    const slot = this.count++
    if (this.count * 32 > this.ids.length) {
      const grown = new Uint8Array(this.ids.length * 2)
      grown.set(this.ids)
      this.ids = grown
    }
    this.ids.set(bytes.subarray(at, at + 32), slot * 32)
    this.buckets[b] = slot + 1
    return { slot, added: true }
  }

  /** The id in `slot`, as hex. */
  hexOf(slot: number): string {
    return Buffer.from(this.ids.buffer, this.ids.byteOffset + slot * 32, 32).toString('hex')
  }

  clear(): void {
    this.ids = new Uint8Array(32 * 1024)
    this.buckets = new Uint32Array(2048)
    this.count = 0
  }

  private equals(slot: number, bytes: Uint8Array, at: number): boolean {
    const ids = this.ids
    const base = slot * 32
    for (let i = 0; i < 32; i++) if (ids[base + i] !== bytes[at + i]) return false
    return true
  }

  private rehash(capacity: number): void {
    const buckets = new Uint32Array(capacity)
    const mask = capacity - 1
    for (let slot = 0; slot < this.count; slot++) {
      let b = hashOf(this.ids, slot * 32) & mask
      while (buckets[b] !== 0) b = (b + 1) & mask
      buckets[b] = slot + 1
    }
    this.buckets = buckets
  }
}

function hashOf(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
}
