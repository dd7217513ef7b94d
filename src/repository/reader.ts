import { IntegrityError } from '../errors.js'
import type { Backend } from './backends/backend.js'
import { BackendError } from './backends/backend.js'
import { keys } from './format.js'
import type { StreamRef } from './manifest.js'
import { openBlob } from './pack.js'
import type { BlobLocation, PackIndex } from './pack-index.js'

/** Read-ahead of a stream, in plaintext bytes: large enough for few big reads, small enough for flat memory. */
const windowBytes = 32 * 1024 * 1024
/** Blobs closer than this in a pack are fetched with one ranged read. */
const coalesceGap = 256 * 1024
const maxRangeBytes = 16 * 1024 * 1024
const readsInFlight = 4

/**
 * Reads blobs back: groups the blobs a window needs by pack, fetches coalesced byte
 * ranges, and checks every blob against its hash.
 */
export class BlobReader {
  constructor(
    private readonly backend: Backend,
    private readonly index: PackIndex,
  ) {}

  locate(id: string, context: string): BlobLocation {
    const at = this.index.get(id)
    if (!at)
      throw new IntegrityError(`chunk ${id.slice(0, 12)} needed by ${context} is not in any index: it is missing`)
    return at
  }

  async loadOne(id: string, context: string): Promise<Uint8Array> {
    return (await this.loadMany([id], context)).get(id)!
  }

  /** Loads distinct blobs; the map holds each id once. */
  async loadMany(ids: Iterable<string>, context: string): Promise<Map<string, Uint8Array>> {
    const byPack = new Map<string, { id: string; at: BlobLocation }[]>()
    for (const id of new Set(ids)) {
      const at = this.locate(id, context)
      const list = byPack.get(at.pack) ?? []
      if (list.length === 0) byPack.set(at.pack, list)
      list.push({ id, at })
    }
    const ranges: { pack: string; offset: number; end: number; blobs: { id: string; at: BlobLocation }[] }[] = []
    for (const [pack, blobs] of byPack) {
      blobs.sort((a, b) => a.at.offset - b.at.offset)
      let current: (typeof ranges)[number] | undefined
      for (const blob of blobs) {
        const end = blob.at.offset + blob.at.length
        if (current && blob.at.offset - current.end <= coalesceGap && end - current.offset <= maxRangeBytes) {
          current.end = Math.max(current.end, end)
          current.blobs.push(blob)
        } else {
          current = { pack, offset: blob.at.offset, end, blobs: [blob] }
          ranges.push(current)
        }
      }
    }
    const out = new Map<string, Uint8Array>()
    await forEachLimited(ranges, readsInFlight, async (range) => {
      const bytes = await this.getRange(range.pack, range.offset, range.end - range.offset, context)
      for (const { id, at } of range.blobs) {
        const start = at.offset - range.offset
        out.set(id, openBlob(bytes.subarray(start, start + at.length), id, `pack ${range.pack.slice(0, 12)}`))
      }
    })
    return out
  }

  private async getRange(pack: string, offset: number, length: number, context: string): Promise<Uint8Array> {
    try {
      return await this.backend.get(keys.pack(pack), { range: { offset, length } })
    } catch (err) {
      if (err instanceof BackendError && (err.kind === 'not-found' || err.kind === 'integrity')) {
        throw new IntegrityError(
          `pack ${pack.slice(0, 12)} needed by ${context} is ${err.kind === 'not-found' ? 'missing' : 'truncated'}`,
          'Run `drkit verify --read-data` to see which snapshots are affected.',
          { cause: err },
        )
      }
      throw err
    }
  }

  /** The chunk ids of a stream, in order. */
  async *chunkIds(ref: StreamRef, context: string): AsyncIterable<string> {
    for (const listId of ref.lists) {
      const list = Buffer.from(await this.loadOne(listId, context))
      for (let at = 0; at < list.length; at += 32) yield list.toString('hex', at, at + 32)
    }
  }

  /** A stream's plaintext chunks in order, with one window read ahead. */
  async *readStream(ref: StreamRef, context: string): AsyncIterable<Uint8Array> {
    const windows = this.windows(ref, context)[Symbol.asyncIterator]()
    const next = async (): Promise<{ ids: string[]; blobs: Map<string, Uint8Array> } | undefined> => {
      const w = await windows.next()
      return w.done ? undefined : { ids: w.value, blobs: await this.loadMany(w.value, context) }
    }
    let pending = next()
    for (;;) {
      const current = await pending
      if (!current) return
      pending = next()
      // A failed read-ahead is reported when it is awaited, not as an unhandled rejection.
      pending.catch(() => undefined)
      for (const id of current.ids) yield current.blobs.get(id)!
    }
  }

  private async *windows(ref: StreamRef, context: string): AsyncIterable<string[]> {
    let ids: string[] = []
    let bytes = 0
    for await (const id of this.chunkIds(ref, context)) {
      ids.push(id)
      bytes += this.locate(id, context).rawLength
      if (bytes >= windowBytes) {
        yield ids
        ids = []
        bytes = 0
      }
    }
    if (ids.length > 0) yield ids
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
