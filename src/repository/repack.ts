import { createHash } from 'node:crypto'
import { IntegrityError } from '../errors.js'
import { keys } from './format.js'
import { FramePool } from './frame-pool.js'

import { sha256 } from './hash.js'
import type { Repository } from './index.js'
import { entrySize, frameSize } from './pack.js'
import { encodeIndexFile, encodeIndexRecord } from './pack-index.js'
import { copyFrameAbove, forEachRecord, readIndexPlain } from './prune-plan.js'
import { type BlobTable, isList, referenced } from './prune-table.js'
import { type FrameBlob, PackAssembler } from './repack-pack.js'

/** A pack is read in ranges of about this size, so memory holds one range, not one pack. */
const windowBytes = 1024 * 1024
/** Frames being sealed at once. */
const framesInFlight = 8
/** An index file is written for the new packs each time their records reach this size. */
const indexBytes = 4 * 1024 * 1024

export interface RepackResult {
  /** The index files that list the new packs. */
  indexKeys: string[]
  packs: string[]
  blobs: number
  storedBytes: number
}

interface StoredFrame {
  offset: number
  length: number
  blobs: (FrameBlob & { used: boolean; list: boolean })[]
}

/**
 * Copies the blobs in use out of the packs in `move` into new packs, then writes index
 * files for the new packs. A pack is streamed in ranges and hashed as it goes: a frame at
 * least half in use is copied as it is stored (its unused blobs with it, listed as such,
 * for a later prune), without decompressing or recompressing, and the pack's hash proves
 * those bytes are the ones written; the used blobs of the other frames are decoded
 * (checked against their ids) and sealed into new frames. Only additions: the old packs
 * and index files are removed later, by the commit phase, after these index files are
 * stored, so a crash at any moment loses no referenced blob.
 */
export async function repack(
  repository: Repository,
  table: BlobTable,
  move: Set<string>,
  indexKeys: Iterable<string>,
  /** Stored sizes by pack key, as listed. */
  sizes: Map<string, number>,
): Promise<RepackResult> {
  const { backend, codec } = repository
  const result: RepackResult = { indexKeys: [], packs: [], blobs: 0, storedBytes: 0 }
  let records: Buffer[] = []
  let recordBytes = 0
  const writeIndex = async () => {
    if (records.length === 0) return
    const bytes = encodeIndexFile(records, codec)
    const key = keys.index(sha256(bytes))
    await backend.put(key, bytes, { ifAbsent: true })
    result.indexKeys.push(key)
    records = []
    recordBytes = 0
  }
  const assembler = new PackAssembler(repository.config.packSize, codec, async (id, bytes, entries) => {
    await backend.put(keys.pack(id), bytes)
    const record = encodeIndexRecord({ id, entries })
    records.push(record)
    recordBytes += record.length
    result.packs.push(id)
    result.storedBytes += bytes.length
    if (recordBytes >= indexBytes) await writeIndex()
  })
  const fresh = new Recompressor(assembler, codec.key)
  const done = new Set<string>()
  for (const key of indexKeys) {
    const frames: [string, StoredFrame[]][] = []
    forEachRecord(await readIndexPlain(repository, key), (packId, buf, start, count) => {
      if (move.has(packId) && !done.has(packId)) frames.push([packId, framesOf(buf, start, count, table)])
      done.add(packId)
    })
    for (const [packId, packFrames] of frames) {
      result.blobs += await copyPack(repository, packId, sizes, packFrames, assembler, fresh)
    }
  }
  await fresh.flush()
  await assembler.finish()
  await writeIndex()
  return result
}

/** A pack record's frames in pack order, each with its blobs and which of them are in use. */
function framesOf(buf: Buffer, start: number, count: number, table: BlobTable): StoredFrame[] {
  const frames = new Map<number, StoredFrame>()
  for (let i = 0, at = start; i < count; i++, at += entrySize) {
    const offset = buf.readUInt32BE(at + 32)
    let frame = frames.get(offset)
    if (!frame) {
      frame = { offset, length: buf.readUInt32BE(at + 36), blobs: [] }
      frames.set(offset, frame)
    }
    const flags = table.get(buf, at)
    frame.blobs.push({
      id: buf.toString('hex', at, at + 32),
      inner: buf.readUInt32BE(at + 40),
      rawLength: buf.readUInt32BE(at + 44),
      used: (flags & referenced) !== 0,
      list: (flags & isList) !== 0,
    })
  }
  return [...frames.values()].sort((a, b) => a.offset - b.offset)
}

/** Streams one pack and copies what it holds in use; returns the number of blobs in use copied. */
async function copyPack(
  repository: Repository,
  packId: string,
  sizes: Map<string, number>,
  frames: StoredFrame[],
  assembler: PackAssembler,
  fresh: Recompressor,
): Promise<number> {
  const key = keys.pack(packId)
  const size = sizes.get(key)
  if (size === undefined) throw new IntegrityError(`pack ${packId.slice(0, 12)} is missing`, nothingDeleted)
  const hash = createHash('sha256')
  let copied = 0
  for (const range of rangesOf(frames, size, packId)) {
    const bytes = await repository.backend.get(key, { range: { offset: range.start, length: range.end - range.start } })
    hash.update(bytes)
    const decode: StoredFrame[] = []
    for (const frame of range.frames) {
      const raw = frame.blobs.reduce((n, b) => n + b.rawLength, 0)
      const used = frame.blobs.reduce((n, b) => n + (b.used ? b.rawLength : 0), 0)
      if (used === 0) continue
      copied += frame.blobs.filter((b) => b.used).length
      if (used < raw * copyFrameAbove) {
        decode.push(frame)
        continue
      }
      const start = frame.offset - range.start
      assembler.add(Uint8Array.prototype.slice.call(bytes, start, start + frame.length), frame.blobs)
      await assembler.settle(framesInFlight)
    }
    if (decode.length > 0) await fresh.add(bytes, range.start, decode, `pack ${packId.slice(0, 12)}`)
  }
  if (hash.digest('hex') !== packId) {
    throw new IntegrityError(`pack ${packId.slice(0, 12)} does not match its hash: it is damaged`, nothingDeleted)
  }
  return copied
}

/** The whole pack as ranges of whole frames, about `windowBytes` each, the trailer last. */
function rangesOf(frames: StoredFrame[], size: number, packId: string) {
  const ranges: { start: number; end: number; frames: StoredFrame[] }[] = []
  let pos = 0
  for (const frame of frames) {
    const end = frame.offset + frame.length
    if (frame.offset < pos || end > size) {
      throw new IntegrityError(`pack ${packId.slice(0, 12)} does not hold the frames its index lists`, nothingDeleted)
    }
    const last = ranges.at(-1)
    if (last && end - last.start <= windowBytes) {
      last.end = end
      last.frames.push(frame)
    } else ranges.push({ start: pos, end, frames: [frame] })
    pos = end
  }
  if (pos < size) ranges.push({ start: pos, end: size, frames: [] })
  return ranges
}

const nothingDeleted = 'Nothing was deleted. Run `drkit verify --read-data` to see what is affected.'

/** Ranges being decoded at once, ahead of the one whose blobs are being sealed again. */
const rangesInFlight = 4

/** Decodes the used blobs of frames mostly garbage (checked against their ids) and seals them into new frames. */
class Recompressor {
  private decoding: { frames: StoredFrame[]; plain: Promise<Uint8Array[]> }[] = []
  private open: { blob: FrameBlob; plain: Uint8Array }[] = []
  private openBytes = 0

  constructor(
    private readonly assembler: PackAssembler,
    private readonly key: Uint8Array | undefined,
  ) {}

  /** Starts decoding the frames of `bytes` (the range read at `pos`, handed over to a frame worker). */
  async add(bytes: Uint8Array, pos: number, frames: StoredFrame[], where: string): Promise<void> {
    const specs = frames.map((f) => ({
      start: f.offset - pos,
      length: f.length,
      blobs: f.blobs.filter((b) => b.used).map(({ id, inner, rawLength }) => ({ id, inner, rawLength })),
    }))
    const plain = FramePool.shared().open(bytes, specs, where, this.key)
    // A failure is reported when it is awaited, not as an unhandled rejection.
    plain.catch(() => undefined)
    this.decoding.push({ frames, plain })
    while (this.decoding.length > rangesInFlight) await this.next()
  }

  async flush(): Promise<void> {
    while (this.decoding.length > 0) await this.next()
    await this.cut()
  }

  /** Takes the blobs of the oldest range decoded into new frames. */
  private async next(): Promise<void> {
    const { frames, plain } = this.decoding.shift()!
    const blobs = await plain
    let k = 0
    for (const frame of frames) {
      for (const blob of frame.blobs) {
        if (!blob.used) continue
        // A chunk list keeps a frame of its own, so that damage to data spares it.
        if (blob.list) await this.cut()
        this.open.push({ blob, plain: blobs[k++]! })
        this.openBytes += blob.rawLength
        if (blob.list || this.openBytes >= frameSize) await this.cut()
      }
    }
  }

  private async cut(): Promise<void> {
    if (this.open.length === 0) return
    let inner = 0
    const blobs = this.open.map(({ blob }) => {
      const placed = { id: blob.id, inner, rawLength: blob.rawLength }
      inner += blob.rawLength
      return placed
    })
    const joined = Buffer.concat(this.open.map((b) => b.plain))
    this.open = []
    this.openBytes = 0
    this.assembler.add(FramePool.shared().seal(joined, true, this.key), blobs)
    await this.assembler.settle(framesInFlight)
  }
}
