import type { Codec } from './crypto/codec.js'
import { sha256 } from './hash.js'
import { entrySize, type PackEntry, packTrailer } from './pack.js'

/** A blob in a frame: its id, and its place in the frame's plaintext. */
export interface FrameBlob {
  id: string
  inner: number
  rawLength: number
}

/** Room kept at the end of a pack for its trailer's fixed part (and the seal of an encrypted one). */
const trailerSlack = 64

/**
 * Lays out the packs a repack writes from frames that are already stored (copied as they
 * are) or still being sealed, in the layout of pack.ts: frames, then the trailer. Each
 * pack is one buffer of about `packSize` bytes that frames are copied into as they
 * settle, so memory stays at one pack however much is repacked.
 */
export class PackAssembler {
  private parts: { stored: Promise<Uint8Array> | Uint8Array; blobs: FrameBlob[] }[] = []
  private out: Buffer | undefined
  private bytes = 0
  private entries: PackEntry[] = []

  constructor(
    private readonly packSize: number,
    private readonly codec: Codec,
    /** Stores a finished pack; `bytes` is the pack's own buffer. */
    private readonly upload: (id: string, bytes: Uint8Array, entries: PackEntry[]) => Promise<void>,
  ) {}

  /** Adds a frame in its stored form, with every blob it holds (the index lists them all). */
  add(stored: Promise<Uint8Array> | Uint8Array, blobs: FrameBlob[]): void {
    // A failure is reported by settle(); until then it must not count as unhandled.
    if (stored instanceof Promise) stored.catch(() => undefined)
    this.parts.push({ stored, blobs })
  }

  /** Waits until at most `limit` frames are pending, laying out the ones that are done in order. */
  async settle(limit: number): Promise<void> {
    while (this.parts.length > limit) {
      const part = this.parts.shift()!
      await this.append(await part.stored, part.blobs)
    }
  }

  /** Lays out every pending frame and stores the last pack. */
  async finish(): Promise<void> {
    await this.settle(0)
    await this.flush()
  }

  private async append(stored: Uint8Array, blobs: FrameBlob[]): Promise<void> {
    const room = (count: number) => (this.entries.length + count) * entrySize + trailerSlack
    if (this.out && this.bytes + stored.length + room(blobs.length) > this.out.length) await this.flush()
    this.out ??= Buffer.allocUnsafe(Math.max(this.packSize, stored.length + room(blobs.length)))
    this.out.set(stored, this.bytes)
    for (const b of blobs) {
      this.entries.push({ id: b.id, offset: this.bytes, length: stored.length, inner: b.inner, rawLength: b.rawLength })
    }
    this.bytes += stored.length
  }

  private async flush(): Promise<void> {
    const out = this.out
    if (!out || this.entries.length === 0) return
    const trailer = packTrailer(this.entries, this.codec)
    out.set(trailer, this.bytes)
    const end = this.bytes + trailer.length
    const bytes = out.subarray(0, end)
    const entries = this.entries
    this.out = undefined
    this.bytes = 0
    this.entries = []
    await this.upload(sha256(bytes), bytes, entries)
  }
}
