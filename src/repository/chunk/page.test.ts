import { describe, expect, it } from 'vitest'
import { chunkPages } from './page.js'

/** mulberry32, for reproducible input splittings. */
function prng(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t
    return (t ^ (t >>> 14)) >>> 0
  }
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >>> 8)) & 255)

async function* split(data: Uint8Array, size: () => number): AsyncIterable<Uint8Array> {
  for (let off = 0; off < data.length; ) {
    const n = size()
    yield data.subarray(off, off + n)
    off += n
  }
}

async function collect(input: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const page of input) out.push(page)
  return out
}

describe('chunkPages', () => {
  it('cuts exact pages whatever the input splitting, the last one short', async () => {
    const data = pattern(10 * 4096 + 123)
    const rnd = prng(7)
    const splittings: (() => number)[] = [() => data.length, () => 1, () => 4096, () => 1 + (rnd() % 10_000)]
    for (const size of splittings) {
      const pages = await collect(chunkPages(split(data, size), 4096))
      expect(pages.map((p) => p.length)).toEqual([...Array(10).fill(4096), 123])
      expect(Buffer.concat(pages).equals(data)).toBe(true)
    }
  })

  it('yields no short page when the length is a multiple, and nothing for empty input', async () => {
    const data = pattern(3 * 512)
    const pages = await collect(
      chunkPages(
        split(data, () => 700),
        512,
      ),
    )
    expect(pages.map((p) => p.length)).toEqual([512, 512, 512])
    expect(
      await collect(
        chunkPages(
          split(new Uint8Array(0), () => 1),
          512,
        ),
      ),
    ).toEqual([])
    expect(
      await collect(
        chunkPages(
          split(data, () => 1000),
          1,
        ),
      ),
    ).toHaveLength(data.length)
  })

  it('yields pages that survive the producer reusing its buffer', async () => {
    const data = pattern(50_000)
    async function* reusing(): AsyncIterable<Uint8Array> {
      const buf = new Uint8Array(3000)
      for (let off = 0; off < data.length; off += buf.length) {
        const piece = data.subarray(off, off + buf.length)
        buf.set(piece)
        yield buf.subarray(0, piece.length)
        buf.fill(0xee)
      }
    }
    // Kept until the end: a page aliasing the producer's buffer would read 0xee by then.
    const pages = await collect(chunkPages(reusing(), 1024))
    expect(Buffer.concat(pages).equals(data)).toBe(true)
  })

  it('rejects an invalid page size at once', () => {
    for (const size of [0, -1, 1.5, Number.NaN]) {
      expect(() =>
        chunkPages(
          split(new Uint8Array(1), () => 1),
          size,
        ),
      ).toThrow(RangeError)
    }
  })
})
