import { describe, expect, it } from 'vitest'
import { IntegrityError } from '../errors.js'
import { FramePool } from './frame-pool.js'
import { blobId, encode } from './frames.js'

/** Three frames laid end to end, as in a pack, with their specs for `check`. */
function pack() {
  const plains = [1, 2, 3].map((n) => new Uint8Array(64 * 1024).fill(n))
  const stored = plains.map((p) => encode(p))
  const bytes = new Uint8Array(stored.reduce((n, s) => n + s.length, 0))
  let start = 0
  const frames = stored.map((s, i) => {
    bytes.set(s, start)
    const spec = { start, length: s.length, blobs: [{ id: blobId(plains[i]!), inner: 0, rawLength: 64 * 1024 }] }
    start += s.length
    return spec
  })
  return { bytes, frames }
}

describe('FramePool.check', () => {
  it('accepts intact frames', async () => {
    const { bytes, frames } = pack()
    await expect(FramePool.shared().check(bytes, frames, 'pack test')).resolves.toBeUndefined()
  })

  it('finds damage in any frame of the read, not only the first', async () => {
    const { bytes, frames } = pack()
    // A wrong id for the last frame's blob stands for data that no longer matches it.
    frames[2]!.blobs[0]!.id = blobId(new Uint8Array(8))
    await expect(FramePool.shared().check(bytes, frames, 'pack test')).rejects.toBeInstanceOf(IntegrityError)
  })
})
