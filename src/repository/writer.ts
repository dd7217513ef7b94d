import { hostname } from 'node:os'
import type { Backend } from './backends/backend.js'
import { type CutRun, cdcRuns, type HashedRun } from './cdc-runs.js'
import { type CdcParams, defaultCdcParams } from './chunk/cdc.js'
import { encodeJson } from './compress.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { formatVersion, idsPerListBlob, keys } from './format.js'
import { FramePool } from './frame-pool.js'
import { sha256 } from './hash.js'
import { IdTable } from './id-table.js'
import type { ChunkingSpec, Snapshot, SnapshotDraft, SnapshotStats, StreamRef } from './manifest.js'
import { frameSize, PackBuilder } from './pack.js'
import { encodeIndexFile, encodeIndexRecord, type PackIndex } from './pack-index.js'

/** How many finished packs may be uploading while chunking goes on. */
const uploadsInFlight = 1
/** Chunks are hashed in runs of about this much plaintext, each run by one frame worker. */
const runBytes = 4 * 1024 * 1024
const maxRunChunks = 4096
/** Runs being hashed while an earlier one is stored: enough to keep every worker busy. */
const runsAhead = 2
/** How many frames may be compressing in workers while hashing goes on: two runs' worth. */
const framesInFlight = (2 * runBytes) / frameSize

/**
 * The ids of a stream's chunks not yet stored in a list blob. The buffer grows as ids
 * come, so that a small file's stream does not allocate a whole list (128 KiB) for one id.
 */
interface ChunkList {
  ids: Buffer
  count: number
}

/**
 * The write half of a session: chunks go into packs, packs are uploaded as they fill,
 * and `commitSnapshot` writes, in this order, the last pack, the index of every pack
 * this session wrote, and the manifest. Until the manifest is stored nothing is visible;
 * a session that fails leaves only unreferenced packs, which pruning removes.
 */
export class RepositoryWriter {
  private readonly pack: PackBuilder
  /** Index records of the packs this session uploaded, written as one index file at commit. */
  private readonly written: Buffer[] = []
  /** Blobs this session stored, until its index file takes over. */
  private readonly sessionBlobs = new IdTable()
  private readonly uploads = new Set<Promise<void>>()
  private uploadError: unknown
  private readonly stats = { size: 0, newBytes: 0, storedBytes: 0, chunks: 0, newChunks: 0 }
  private readonly started = performance.now()

  constructor(
    private readonly backend: Backend,
    private readonly index: PackIndex,
    private readonly resource: string,
    private readonly packSize: number,
    /** Told the key of the index file this session writes, whose records it adds to `index` itself. */
    private readonly onIndexWritten: (key: string) => void,
    /** Names blobs and seals frames, packs' trailers, the index file and the manifest. */
    private readonly codec: Codec = plainCodec,
  ) {
    const seal = (plain: Uint8Array, handOver: boolean) => FramePool.shared().seal(plain, handOver, codec.key)
    // Packs end once past packSize, by up to a run's frames.
    this.pack = new PackBuilder(seal, codec, packSize + packSize / 8)
  }

  /**
   * Stores a stream of chunks (already cut by the caller's chunker) and returns its reference.
   * The chunks are handed over: their memory may move to a worker, so the caller must not
   * use them afterwards (the chunkers yield memory of their own).
   * Chunks are copied into runs of a few MiB that frame workers hash, several runs at once;
   * each run's new chunks then go back to a worker to be cut into frames and compressed.
   */
  async writeStream(name: string, chunking: ChunkingSpec, chunks: AsyncIterable<Uint8Array>): Promise<StreamRef> {
    const ref: StreamRef = { name, chunking, size: 0, chunks: 0, lists: [] }
    const list: ChunkList = { ids: Buffer.alloc(0), count: 0 }
    const hashing: Promise<HashedRun>[] = []
    let run: Uint8Array[] = []
    let runLength = 0
    const startRun = () => {
      const hashed = this.hashRun(run, runLength)
      // A failure is reported when the run is stored, not as an unhandled rejection.
      hashed.catch(() => undefined)
      hashing.push(hashed)
      run = []
      runLength = 0
    }
    for await (const chunk of chunks) {
      run.push(chunk)
      runLength += chunk.length
      if (runLength >= runBytes || run.length >= maxRunChunks) {
        startRun()
        if (hashing.length > runsAhead) await this.storeRun(await hashing.shift()!, ref, list)
      }
    }
    if (run.length > 0) startRun()
    while (hashing.length > 0) await this.storeRun(await hashing.shift()!, ref, list)
    return this.endStream(ref, list)
  }

  /**
   * Stores a byte stream cut into content-defined chunks (the cut points of `chunkStream`) and
   * returns its reference. The frame workers cut and hash it in runs of several MiB
   * (cdc-runs.ts), so the main thread only copies the bytes in and stores the runs.
   */
  async writeCdcStream(
    name: string,
    data: AsyncIterable<Uint8Array>,
    params: CdcParams = defaultCdcParams,
  ): Promise<StreamRef> {
    const ref: StreamRef = { name, chunking: { kind: 'cdc' }, size: 0, chunks: 0, lists: [] }
    const list: ChunkList = { ids: Buffer.alloc(0), count: 0 }
    const cut: CutRun = (bytes, final) => FramePool.shared().cutRun(bytes, final, params, this.codec.key)
    for await (const run of cdcRuns(data, cut)) await this.storeRun(run, ref, list)
    return this.endStream(ref, list)
  }

  /** Stores the stream's last list blob and counts the stream in the snapshot's stats. */
  private async endStream(ref: StreamRef, list: ChunkList): Promise<StreamRef> {
    if (list.count > 0 || ref.lists.length === 0) {
      ref.lists.push(await this.storeBlob(list.ids.subarray(0, list.count * 32), true))
    }
    this.stats.size += ref.size
    this.stats.chunks += ref.chunks
    return ref
  }

  /**
   * Whether a stream stored by an earlier snapshot can be referenced again without reading
   * it: its chunk lists are indexed. Its chunks are trusted to be there too, as the earlier
   * snapshot references them and pruning, which alone deletes, cannot run during a write.
   */
  canReuse(ref: StreamRef): boolean {
    return ref.lists.every((id) => this.index.has(id))
  }

  /** References a stream stored by an earlier snapshot (checked with `canReuse`), storing nothing. */
  reuseStream(ref: StreamRef): StreamRef {
    this.stats.size += ref.size
    this.stats.chunks += ref.chunks
    return ref
  }

  /**
   * Has a worker hash a run of chunks laid end to end. Chunks that are already the whole of
   * one buffer, end to end (the page chunker's batches), move to the worker as they are;
   * other runs are copied first.
   */
  private async hashRun(chunks: Uint8Array[], length: number): Promise<HashedRun> {
    const lengths = Uint32Array.from(chunks, (c) => c.length)
    const hashed = await FramePool.shared().hashRun(
      wholeBuffer(chunks, length) ?? concat(chunks, length),
      lengths,
      this.codec.key,
    )
    return { ...hashed, lengths }
  }

  /**
   * Adds a hashed run's ids to the stream's chunk list, and its chunks that the repository
   * does not have yet to the pack, in frames that a worker cuts from the run and seals.
   */
  private async storeRun(run: HashedRun, ref: StreamRef, list: ChunkList): Promise<void> {
    const ids = Buffer.from(run.ids.buffer, run.ids.byteOffset, run.ids.byteLength)
    const pieces: number[] = []
    const ends: number[] = []
    const frames: { id: string; rawLength: number }[][] = []
    let frame: { id: string; rawLength: number }[] = []
    let frameBytes = 0
    let at = 0
    for (let i = 0; i < run.lengths.length; i++) {
      const length = run.lengths[i]!
      if (this.index.slotOf(ids, i * 32) < 0 && this.sessionBlobs.add(ids, i * 32).added) {
        this.stats.newChunks++
        this.stats.newBytes += length
        // A chunk that follows the previous one in the same frame extends its piece.
        if (frame.length > 0 && pieces.at(-1) === at) pieces[pieces.length - 1] = at + length
        else pieces.push(at, at + length)
        frame.push({ id: ids.toString('hex', i * 32, i * 32 + 32), rawLength: length })
        frameBytes += length
        if (frameBytes >= frameSize) {
          ends.push(pieces.length / 2)
          frames.push(frame)
          frame = []
          frameBytes = 0
        }
      }
      at += length
      if (list.count * 32 === list.ids.length) list.ids = grown(list.ids)
      ids.copy(list.ids, list.count * 32, i * 32, i * 32 + 32)
      list.count++
      ref.size += length
      ref.chunks++
      if (list.count === idsPerListBlob) {
        ref.lists.push(await this.storeBlob(Buffer.from(list.ids), true))
        list.count = 0
      }
    }
    if (frame.length > 0) {
      ends.push(pieces.length / 2)
      frames.push(frame)
    }
    if (frames.length === 0) return
    const sealed = FramePool.shared().sealRun(
      run.bytes,
      Uint32Array.from(pieces),
      Uint32Array.from(ends),
      this.codec.key,
    )
    for (const [k, blobs] of frames.entries()) {
      this.pack.addSealed(
        blobs,
        sealed.then((stored) => stored[k]!),
      )
      // Checked frame by frame, so that small packs (a repository's packSize) stay small.
      if (this.pack.size >= this.packSize) await this.uploadPack()
    }
    await this.pack.settle(framesInFlight)
  }

  /** Makes the snapshot visible: flush packs, write the index, then the manifest. */
  async commitSnapshot(draft: SnapshotDraft, streams: StreamRef[]): Promise<Snapshot> {
    await this.flush()
    const stats: SnapshotStats = { ...this.stats, durationMs: Math.round(performance.now() - this.started) }
    const manifest = {
      version: formatVersion,
      resource: this.resource,
      time: new Date().toISOString(),
      host: hostname(),
      ...draft,
      streams,
      stats,
    }
    const bytes = encodeJson(manifest, this.codec)
    const id = sha256(bytes)
    await this.backend.put(keys.snapshot(this.resource, id), bytes)
    return { id, ...manifest }
  }

  /** Stores a blob unless the repository has it; `isList` keeps chunk lists in frames of their own. */
  private async storeBlob(plain: Uint8Array, isList = false): Promise<string> {
    const id = this.codec.blobId(plain)
    const bytes = Buffer.from(id, 'hex')
    if (this.index.slotOf(bytes) >= 0 || !this.sessionBlobs.add(bytes).added) return id
    this.stats.newChunks++
    this.stats.newBytes += plain.length
    this.pack.add(id, plain, { alone: isList })
    await this.pack.settle(framesInFlight)
    if (this.pack.size >= this.packSize) await this.uploadPack()
    return id
  }

  private async uploadPack(): Promise<void> {
    if (this.pack.count === 0) return
    const { id, bytes, entries } = await this.pack.finish()
    this.stats.storedBytes += bytes.length
    while (this.uploads.size >= uploadsInFlight) await Promise.race(this.uploads)
    this.throwIfUploadFailed()
    const upload = this.backend
      .put(keys.pack(id), bytes)
      // Packs are named by their hash: replacing one that exists writes the same bytes, and
      // a plain put spares object stores a conditional write.
      .then(() => {
        this.written.push(encodeIndexRecord({ id, entries }))
        this.pack.recycle(bytes)
      })
      .catch((err: unknown) => {
        this.uploadError ??= err
      })
      .finally(() => this.uploads.delete(upload))
    this.uploads.add(upload)
  }

  private async flush(): Promise<void> {
    await this.uploadPack()
    await Promise.all(this.uploads)
    this.throwIfUploadFailed()
    if (this.written.length === 0) return
    // The end of a large backup is its peak of memory: each structure with an entry per new
    // blob (the records, the session's set, the encoded index file, the index) is let go as
    // soon as the next is made, rather than all being held until the index is extended.
    const records = Buffer.concat(this.written)
    this.written.length = 0
    // Nothing is stored after the index file, so the session's set is no longer needed.
    this.sessionBlobs.clear()
    this.onIndexWritten(await this.putIndexFile(records))
    this.index.addRecords(records, 'of this session')
  }

  /** Stores the index file of `records` and returns its key. */
  private async putIndexFile(records: Buffer): Promise<string> {
    const bytes = encodeIndexFile([records], this.codec)
    this.stats.storedBytes += bytes.length
    const key = keys.index(sha256(bytes))
    await this.backend.put(key, bytes, { ifAbsent: true })
    return key
  }

  private throwIfUploadFailed(): void {
    if (this.uploadError !== undefined) throw this.uploadError
  }
}

/** A chunk list's buffer with room for more ids, up to a whole list's. */
function grown(ids: Buffer): Buffer {
  const next = Buffer.allocUnsafe(Math.min(idsPerListBlob * 32, Math.max(32 * 32, 2 * ids.length)))
  ids.copy(next)
  return next
}

/** The one buffer that `chunks` are, end to end and whole, if they are. */
function wholeBuffer(chunks: Uint8Array[], length: number): Uint8Array | undefined {
  const buffer = chunks[0]?.buffer
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== length) return undefined
  let at = 0
  for (const chunk of chunks) {
    if (chunk.buffer !== buffer || chunk.byteOffset !== at) return undefined
    at += chunk.length
  }
  return new Uint8Array(buffer)
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.length
  }
  return bytes
}
