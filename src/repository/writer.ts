import { hostname } from 'node:os'
import type { Backend } from './backends/backend.js'
import { encodeJson } from './compress.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { formatVersion, idsPerListBlob, keys } from './format.js'
import { FramePool } from './frame-pool.js'
import { sha256 } from './hash.js'
import type { ChunkingSpec, Snapshot, SnapshotDraft, SnapshotStats, StreamRef } from './manifest.js'
import { PackBuilder } from './pack.js'
import { blobKey, encodeIndexFile, encodeIndexRecord, type PackIndex } from './pack-index.js'

/** How many finished packs may be uploading while chunking goes on. */
const uploadsInFlight = 2
/** How many frames may be compressing in workers while hashing goes on: enough to keep every worker busy. */
const framesInFlight = 16

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
  private readonly sessionBlobs = new Set<string>()
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
    this.pack = new PackBuilder((plain, handOver) => FramePool.shared().seal(plain, handOver, codec.key), codec)
  }

  /** Stores a stream of chunks (already cut by the caller's chunker) and returns its reference. */
  async writeStream(name: string, chunking: ChunkingSpec, chunks: AsyncIterable<Uint8Array>): Promise<StreamRef> {
    const ref: StreamRef = { name, chunking, size: 0, chunks: 0, lists: [] }
    let list = Buffer.alloc(idsPerListBlob * 32)
    let inList = 0
    for await (const chunk of chunks) {
      const id = await this.storeBlob(chunk)
      list.write(id, inList * 32, 32, 'hex')
      inList++
      ref.size += chunk.length
      ref.chunks++
      if (inList === idsPerListBlob) {
        ref.lists.push(await this.storeBlob(list, true))
        list = Buffer.alloc(idsPerListBlob * 32)
        inList = 0
      }
    }
    if (inList > 0 || ref.lists.length === 0) ref.lists.push(await this.storeBlob(list.subarray(0, inList * 32), true))
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
    const key = blobKey(id)
    if (this.index.has(id) || this.sessionBlobs.has(key)) return id
    this.sessionBlobs.add(key)
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
    const records = Buffer.concat(this.written)
    const bytes = encodeIndexFile([records], this.codec)
    this.stats.storedBytes += bytes.length
    const key = keys.index(sha256(bytes))
    await this.backend.put(key, bytes, { ifAbsent: true })
    this.onIndexWritten(key)
    this.index.addRecords(records, 'of this session')
    this.written.length = 0
  }

  private throwIfUploadFailed(): void {
    if (this.uploadError !== undefined) throw this.uploadError
  }
}
