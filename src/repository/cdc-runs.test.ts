import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { openMemoryBackend } from './backends/memory.js'
import { cdcRuns, type HashedRun } from './cdc-runs.js'
import { type CdcParams, chunkStream, defaultCdcParams } from './chunk/cdc.js'
import { cutRun } from './chunk/cdc-cut.js'
import { hashRun } from './frames.js'
import { Repository, type SnapshotDraft } from './index.js'

const DATA = randomBytes(26 * 1024 * 1024 + 12345)
const small: CdcParams = { min: 2048, avg: 8192, max: 65536 }

/** Yields data in pieces of `size` bytes, in one buffer that it overwrites, as a file reader may. */
async function* reusing(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  const buf = new Uint8Array(size)
  for (let off = 0; off < data.length; off += size) {
    const piece = data.subarray(off, off + size)
    buf.set(piece)
    yield buf.subarray(0, piece.length)
    buf.fill(0xee)
  }
}

async function* once(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data
}

/** The worker's cut, in this thread. */
const cutHere =
  (params: CdcParams) =>
  async (bytes: Uint8Array, final: boolean): Promise<HashedRun> => {
    const lengths = cutRun(bytes, final, params)
    return { bytes, lengths, ids: hashRun(bytes, lengths) }
  }

async function chunkLengths(input: AsyncIterable<Uint8Array>, params: CdcParams): Promise<number[]> {
  const out: number[] = []
  for await (const chunk of chunkStream(input, params)) out.push(chunk.length)
  return out
}

async function runLengths(input: AsyncIterable<Uint8Array>, params: CdcParams) {
  const lengths: number[] = []
  const bytes: Uint8Array[] = []
  for await (const run of cdcRuns(input, cutHere(params))) {
    lengths.push(...run.lengths)
    bytes.push(run.bytes.slice())
  }
  return { lengths, bytes: Buffer.concat(bytes) }
}

const draft: SnapshotDraft = {
  sourceType: 'test',
  position: { time: new Date(0).toISOString() },
  tables: [],
  details: {},
}

describe('cdcRuns', () => {
  // The repository format: a stream cut in runs must cut exactly where the streaming chunker does.
  it('cuts where chunkStream cuts, across runs and however the input is split', async () => {
    for (const params of [defaultCdcParams, small]) {
      const expected = await chunkLengths(once(DATA), params)
      for (const size of [DATA.length, 3 * 1024 * 1024 + 7, 65536, 1000]) {
        const got = await runLengths(reusing(DATA, size), params)
        expect(got.lengths).toEqual(expected)
        expect(got.bytes.equals(DATA)).toBe(true)
      }
    }
  })

  it('yields nothing for an empty stream and one chunk for a short one', async () => {
    expect((await runLengths(once(new Uint8Array(0)), small)).lengths).toEqual([])
    expect((await runLengths(once(DATA.subarray(0, 1000)), small)).lengths).toEqual([1000])
  })
})

describe('RepositoryWriter.writeCdcStream', () => {
  it('stores the chunks that chunkStream gives, so that old snapshots deduplicate against new ones', async () => {
    const repo = await Repository.init(openMemoryBackend())
    const old = await repo.write('files', async (w) => {
      const ref = await w.writeStream('a', { kind: 'cdc' }, chunkStream(once(DATA)))
      return w.commitSnapshot(draft, [ref])
    })
    const now = await repo.write('files', async (w) => {
      const ref = await w.writeCdcStream('a', reusing(DATA, 1 << 20))
      return w.commitSnapshot(draft, [ref])
    })
    expect(now.streams[0]!.lists).toEqual(old.streams[0]!.lists)
    expect(now.streams[0]!.chunks).toBe(old.streams[0]!.chunks)
    expect(now.stats.newChunks).toBe(0)
    const back: Uint8Array[] = []
    for await (const part of repo.readStream(now.streams[0]!, 'test')) back.push(part)
    expect(Buffer.concat(back).equals(DATA)).toBe(true)
  })

  it('names chunks with the repository key in an encrypted repository, as writeStream does', async () => {
    const repo = await Repository.init(openMemoryBackend(), { password: 'pw' })
    const data = DATA.subarray(0, 10 * 1024 * 1024)
    const old = await repo.write('files', async (w) => {
      const ref = await w.writeStream('a', { kind: 'cdc' }, chunkStream(once(data)))
      return w.commitSnapshot(draft, [ref])
    })
    const now = await repo.write('files', async (w) => {
      const ref = await w.writeCdcStream('a', once(data))
      return w.commitSnapshot(draft, [ref])
    })
    expect(now.streams[0]!.lists).toEqual(old.streams[0]!.lists)
    expect(now.stats.newChunks).toBe(0)
  })
})
