import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type CdcParams, chunkStream, defaultCdcParams } from './cdc.js'

/** mulberry32: reproducible test data without Math.random. */
function prng(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t
    return (t ^ (t >>> 14)) >>> 0
  }
}

function randomBytes(n: number, seed: number): Uint8Array {
  const next = prng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 4) {
    const x = next()
    out[i] = x
    out[i + 1] = x >>> 8
    out[i + 2] = x >>> 16
    out[i + 3] = x >>> 24
  }
  return out
}

/** Yields data in pieces of the sizes that size() returns. */
async function* split(data: Uint8Array, size: () => number): AsyncIterable<Uint8Array> {
  for (let off = 0; off < data.length; ) {
    const n = size()
    yield data.subarray(off, off + n)
    off += n
  }
}

async function collect(input: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const chunk of input) out.push(chunk)
  return out
}

const whole = (data: Uint8Array) => split(data, () => data.length)
const lengths = (chunks: Uint8Array[]) => chunks.map((c) => c.length)
const sha = (c: Uint8Array) => createHash('sha256').update(c).digest('hex')
const small: CdcParams = { min: 2048, avg: 8192, max: 65536 }
const DATA = randomBytes(20 * 1024 * 1024, 1)

function expectBounds(chunks: Uint8Array[], { min, max }: CdcParams) {
  chunks.forEach((c, k) => {
    expect(c.length).toBeLessThanOrEqual(max)
    if (k < chunks.length - 1) expect(c.length).toBeGreaterThanOrEqual(min)
  })
}

describe('chunkStream', () => {
  it('yields nothing for empty input, and short input as one chunk', async () => {
    expect(await collect(chunkStream(whole(new Uint8Array(0))))).toEqual([])
    const short = randomBytes(1000, 2)
    expect(await collect(chunkStream(whole(short)))).toEqual([short])
  })

  it('reassembles the input exactly, within min and max', async () => {
    const chunks = await collect(chunkStream(whole(DATA)))
    expect(chunks.length).toBeGreaterThan(10)
    expect(Buffer.concat(chunks).equals(DATA)).toBe(true)
    expectBounds(chunks, defaultCdcParams)
  })

  // The repository format: if these change, old snapshots no longer deduplicate against new ones.
  it('cuts at the same places, fixed for a seeded input', async () => {
    const chunks = await collect(chunkStream(whole(DATA)))
    expect(lengths(chunks).slice(0, 6)).toEqual([1112405, 549855, 1353959, 1067966, 633654, 1125840])
    const smallChunks = await collect(chunkStream(whole(DATA.subarray(0, 200_000)), small))
    expect(lengths(smallChunks).slice(0, 6)).toEqual([11987, 8418, 9289, 12261, 8430, 12199])
  })

  it('gives the same boundaries however the input is split', async () => {
    const expected = lengths(await collect(chunkStream(whole(DATA))))
    const big = prng(3)
    expect(lengths(await collect(chunkStream(split(DATA, () => 1 + (big() % (3 << 20))))))).toEqual(expected)
    const tiny = prng(4)
    expect(lengths(await collect(chunkStream(split(DATA, () => 1 + (tiny() % 64)))))).toEqual(expected)

    const part = DATA.subarray(0, 300_000)
    const smallExpected = lengths(await collect(chunkStream(whole(part), small)))
    expect(smallExpected.length).toBeGreaterThan(10)
    expect(
      lengths(
        await collect(
          chunkStream(
            split(part, () => 1),
            small,
          ),
        ),
      ),
    ).toEqual(smallExpected)
  })

  it('yields chunks that own their bytes, even when the producer reuses its buffer', async () => {
    const data = DATA.subarray(0, 500_000)
    async function* reusing(): AsyncIterable<Uint8Array> {
      const buf = new Uint8Array(4096)
      for (let off = 0; off < data.length; off += buf.length) {
        const piece = data.subarray(off, off + buf.length)
        buf.set(piece)
        yield buf.subarray(0, piece.length)
        buf.fill(0xee)
      }
    }
    const chunks = await collect(chunkStream(reusing(), small))
    expect(Buffer.concat(chunks).equals(data)).toBe(true)
    for (const c of chunks) expect([c.byteOffset, c.buffer.byteLength]).toEqual([0, c.length])
  })

  it('respects min and max on data without natural cut points', async () => {
    const zeros = await collect(chunkStream(whole(new Uint8Array(300_000)), small))
    expectBounds(zeros, small)
    expect(Buffer.concat(zeros).length).toBe(300_000)
    const random = await collect(chunkStream(whole(DATA.subarray(0, 1_000_000)), small))
    expectBounds(random, small)
  })

  it('changes only the first chunks when a few bytes are inserted near the start', async () => {
    const edited = Buffer.concat([DATA.subarray(0, 100), Buffer.from('hello'), DATA.subarray(100)])
    const before = (await collect(chunkStream(whole(DATA)))).map(sha)
    const after = (await collect(chunkStream(whole(edited)))).map(sha)
    const old = new Set(before)
    const changed = after.filter((h) => !old.has(h)).length
    expect(changed).toBeGreaterThan(0)
    expect(changed).toBeLessThanOrEqual(2)
    // The changed chunks lead; everything after them is the old chunks, unchanged.
    expect(after.slice(changed)).toEqual(before.slice(before.length - (after.length - changed)))
    expect(after.length - changed).toBeGreaterThan(10)
  })

  it('rejects invalid parameters at once', () => {
    const input = whole(new Uint8Array(1))
    for (const p of [
      { min: 0, avg: 1024, max: 4096 },
      { min: 2048, avg: 1024, max: 4096 },
      { min: 512, avg: 8192, max: 4096 },
      { min: 512, avg: 1024.5, max: 4096 },
    ]) {
      expect(() => chunkStream(input, p)).toThrow(RangeError)
    }
  })
})
