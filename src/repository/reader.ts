import { IntegrityError } from '../errors.js'
import type { Backend } from './backends/backend.js'
import { BackendError } from './backends/backend.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { keys } from './format.js'
import { FramePool } from './frame-pool.js'
import type { StreamRef } from './manifest.js'
import type { BlobLocation, PackIndex } from './pack-index.js'

/** Read-ahead of a stream, in plaintext bytes: large enough for few big reads, small enough for flat memory. */
const windowBytes = 4 * 1024 * 1024
/** Windows loaded ahead of the one being consumed: enough to keep every frame worker busy. */
const windowsAhead = 4
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

  /** The chunk ids of a stream, in order; the next chunk list is read while this one is consumed. */
  async *chunkIds(ref: StreamRef, context: string): AsyncIterable<string> {
    for await (const list of this.chunkLists(ref, context)) {
      for (let at = 0; at < list.length; at += 32) yield list.toString('hex', at, at + 32)
    }
  }

  /**
   * A stream's plaintext in order, a window (a few MiB) at a time: each window is read and
   * decoded by one frame worker, and several windows are under way at once, so that every
   * worker is busy while the caller consumes the oldest.
   */
  async *readStream(ref: StreamRef, context: string): AsyncIterable<Uint8Array> {
    const windows = this.windows(ref, context)[Symbol.asyncIterator]()
    // An async generator answers next() calls in the order they were made, so each load
    // takes the next window, and the loads of several windows overlap.
    const load = async (): Promise<Uint8Array | undefined> => {
      const w = await windows.next()
      return w.done ? undefined : this.loadWindow(w.value, context)
    }
    const ahead: Promise<Uint8Array | undefined>[] = []
    const fill = () => {
      while (ahead.length < windowsAhead) {
        const loaded = load()
        // A failed read-ahead is reported when it is awaited, not as an unhandled rejection.
        loaded.catch(() => undefined)
        ahead.push(loaded)
      }
    }
    for (;;) {
      fill()
      const current = await ahead.shift()!
      if (current === undefined) return
      if (current.length > 0) yield current
    }
  }

  /** The chunk lists of a stream, each read while the one before is consumed. */
  private async *chunkLists(ref: StreamRef, context: string): AsyncIterable<Buffer> {
    const lists = ref.lists.map((listId) => () => this.loadOne(listId, context))
    let next = lists.shift()?.()
    while (next) {
      const list = Buffer.from(await next)
      next = lists.shift()?.()
      next?.catch(() => undefined)
      yield list
    }
  }

  /**
   * A stream's chunks in runs of about `windowBytes` of plaintext, their ids and index
   * slots. A window never spans two chunk lists (a list holds a few windows' worth).
   */
  private async *windows(ref: StreamRef, context: string): AsyncIterable<Window> {
    for await (const list of this.chunkLists(ref, context)) {
      let start = 0
      let slots: number[] = []
      let bytes = 0
      for (let at = 0; at < list.length; at += 32) {
        const slot = this.index.slotOf(list, at)
        if (slot < 0) this.locate(list.toString('hex', at, at + 32), context)
        slots.push(slot)
        bytes += this.index.rawLengthOfSlot(slot)
        if (bytes >= windowBytes || at + 32 === list.length) {
          // Uint8Array's slice copies (a Buffer's would not): the ids move to a worker.
          yield { ids: Uint8Array.prototype.slice.call(list, start, at + 32), slots }
          start = at + 32
          slots = []
          bytes = 0
        }
      }
    }
  }

  /** Reads the frames a window needs, in coalesced ranges, and has a frame worker lay out its plaintext. */
  private async loadWindow(window: Window, context: string): Promise<Uint8Array> {
    const count = window.slots.length
    // Per blob: its frame (an index into `found`), its start in the frame's plaintext, its length.
    const blobs = new Uint32Array(count * 3)
    const place = new Uint32Array(5)
    const frameOf = new Map<number, number>()
    const found: Frame[] = []
    for (let i = 0; i < count; i++) {
      this.index.placeOfSlot(window.slots[i]!, place, 0)
      const key = place[0]! * 2 ** 32 + place[1]!
      let frame = frameOf.get(key)
      if (frame === undefined) {
        const at = { pack: this.index.packId(place[0]!), offset: place[1]!, length: place[2]!, blobs: [] }
        frame = found.push(at) - 1
        frameOf.set(key, frame)
      }
      blobs[i * 3] = frame
      blobs[i * 3 + 1] = place[3]!
      blobs[i * 3 + 2] = place[4]!
    }
    const numbers = new Map(found.map((frame, i) => [frame, i]))
    const ranges = coalesce([...found])
    // Per frame: its range, its start in the range, its stored length.
    const frames = new Uint32Array(found.length * 3)
    ranges.forEach((range, r) => {
      for (const f of range.frames) frames.set([r, f.offset - range.offset, f.length], numbers.get(f)! * 3)
    })
    const bytes = await Promise.all(
      ranges.map((range) => this.getRange(range.pack, range.offset, range.end - range.offset, context)),
    )
    const where = ranges.map((range) => `pack ${range.pack.slice(0, 12)}`)
    return FramePool.shared().readRun({ ranges: bytes, where, frames, blobs, ids: window.ids }, this.codec.key)
  }
}

/** A run of a stream's chunks: their ids (32 bytes each, a buffer of their own) and index slots. */
interface Window {
  ids: Uint8Array
  slots: number[]
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
