import { IntegrityError } from '../errors.js'
import type { Backend } from './backends/backend.js'
import { BackendError } from './backends/backend.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { keys } from './format.js'
import { FramePool } from './frame-pool.js'
import type { StreamRef } from './manifest.js'
import type { BlobLocation, PackIndex } from './pack-index.js'

/** Read-ahead of a stream, in plaintext bytes: large enough for few big reads, small enough for flat memory. */
const windowBytes = 8 * 1024 * 1024
/** Windows loaded ahead of the one being consumed. */
const windowsAhead = 3
/** Blobs closer than this in a pack are fetched with one ranged read. */
const coalesceGap = 256 * 1024
const maxRangeBytes = 4 * 1024 * 1024
const readsInFlight = 4

/**
 * Reads blobs back: groups the blobs a window needs by pack, fetches coalesced byte
 * ranges, and checks every blob against its hash.
 */
export class BlobReader {
  constructor(
    private readonly backend: Backend,
    private readonly index: PackIndex,
    /** Decrypts frames and checks blob ids (keyed hashes) in an encrypted repository. */
    private readonly codec: Codec = plainCodec,
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

  /** Loads distinct blobs; the map holds each id once. Each frame is read and decoded once. */
  async loadMany(ids: Iterable<string>, context: string): Promise<Map<string, Uint8Array>> {
    const frames = new Map<string, Frame>()
    for (const id of new Set(ids)) {
      const at = this.locate(id, context)
      const key = `${at.pack}/${at.offset}`
      let frame = frames.get(key)
      if (!frame) {
        frame = { pack: at.pack, offset: at.offset, length: at.length, blobs: [] }
        frames.set(key, frame)
      }
      frame.blobs.push({ id, at })
    }
    const out = new Map<string, Uint8Array>()
    await forEachLimited(coalesce([...frames.values()]), readsInFlight, async (range) => {
      const bytes = await this.getRange(range.pack, range.offset, range.end - range.offset, context)
      const specs = range.frames.map((f) => ({
        start: f.offset - range.offset,
        length: f.length,
        blobs: f.blobs.map(({ id, at }) => ({ id, inner: at.inner, rawLength: at.rawLength })),
      }))
      const blobs = await FramePool.shared().open(bytes, specs, `pack ${range.pack.slice(0, 12)}`, this.codec.key)
      let i = 0
      for (const frame of range.frames) for (const { id } of frame.blobs) out.set(id, blobs[i++]!)
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

  /** A stream's plaintext chunks in order, with windows read ahead while earlier ones are consumed. */
  async *readStream(ref: StreamRef, context: string): AsyncIterable<Uint8Array> {
    const windows = this.windows(ref, context)[Symbol.asyncIterator]()
    const next = async (): Promise<{ ids: string[]; blobs: Map<string, Uint8Array> } | undefined> => {
      const w = await windows.next()
      return w.done ? undefined : { ids: w.value, blobs: await this.loadMany(w.value, context) }
    }
    const ahead: Promise<{ ids: string[]; blobs: Map<string, Uint8Array> } | undefined>[] = []
    const fill = () => {
      while (ahead.length < windowsAhead) {
        // Windows are requested in order, each after the previous one's ids are known.
        const previous = ahead.at(-1)
        const loaded = previous ? previous.then((p) => (p ? next() : undefined)) : next()
        // A failed read-ahead is reported when it is awaited, not as an unhandled rejection.
        loaded.catch(() => undefined)
        ahead.push(loaded)
      }
    }
    for (;;) {
      fill()
      const current = await ahead.shift()!
      if (!current) return
      fill()
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

interface Frame {
  pack: string
  offset: number
  length: number
  blobs: { id: string; at: BlobLocation }[]
}

/** Frames close together in one pack are fetched with one ranged read. */
function coalesce(frames: Frame[]): { pack: string; offset: number; end: number; frames: Frame[] }[] {
  frames.sort((a, b) => a.pack.localeCompare(b.pack) || a.offset - b.offset)
  const ranges: { pack: string; offset: number; end: number; frames: Frame[] }[] = []
  for (const frame of frames) {
    const end = frame.offset + frame.length
    const last = ranges.at(-1)
    if (
      last &&
      last.pack === frame.pack &&
      frame.offset - last.end <= coalesceGap &&
      end - last.offset <= maxRangeBytes
    ) {
      last.end = Math.max(last.end, end)
      last.frames.push(frame)
    } else {
      ranges.push({ pack: frame.pack, offset: frame.offset, end, frames: [frame] })
    }
  }
  return ranges
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
