import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { IntegrityError, InternalError } from '../errors.js'
import type { HashedRun } from './cdc-runs.js'
import type { CdcParams } from './chunk/cdc.js'
import { perform } from './frame-tasks.js'
import { encode, type FrameSpec } from './frames.js'

/** `key`: the master key of an encrypted repository (frames.js), absent for a plain one. */
type Task =
  | { op: 'seal'; plain: Uint8Array; key?: Uint8Array }
  | { op: 'open' | 'check'; bytes: Uint8Array; frames: FrameSpec[]; where: string; key?: Uint8Array }
  | ({ op: 'run'; key?: Uint8Array } & RunSpec)
  | { op: 'hashRun'; bytes: Uint8Array; lengths: Uint32Array; key?: Uint8Array }
  | { op: 'cutRun'; bytes: Uint8Array; final: boolean; params: CdcParams; key?: Uint8Array }
  | { op: 'sealRun'; bytes: Uint8Array; pieces: Uint32Array; ends: Uint32Array; key?: Uint8Array }

/** A run of a stream's blobs, in order, and the ranged reads that hold them (frames.js `readRun`). */
export interface RunSpec {
  ranges: Uint8Array[]
  where: string[]
  frames: Uint32Array
  blobs: Uint32Array
  ids: Uint8Array
}

/** Frames up to this size are sealed on the calling thread. */
const sealedHereBytes = 4096
/**
 * Reads of up to this many bytes, stored and decoded, are done on the calling thread: a worker's
 * round trip costs two thread wake-ups, which on 2 cores took more CPU than decoding them (a
 * tree of 13,000 small files restored with a read or two per file). Both sizes count: a few KiB
 * of a very compressible table can hold MiB of rows.
 */
const readHereBytes = 64 * 1024

/**
 * Worker threads that compress and open frames, so that hashing and I/O on the main
 * thread overlap with (de)compression on the other cores. Workers start on first use and
 * keep the process alive only while a task is pending.
 */
export class FramePool {
  private static instance: FramePool | undefined
  private readonly workers: Worker[] = []
  /** Tasks each worker has not answered yet: a new task goes to the least busy one. */
  private readonly queued: number[] = []
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; worker: number }
  >()
  private nextTask = 0

  static shared(): FramePool {
    FramePool.instance ??= new FramePool()
    return FramePool.instance
  }

  private constructor() {
    // One worker per core, at most four; DRKIT_WORKERS overrides it (one uses less memory, runs slower).
    const size = Number(process.env.DRKIT_WORKERS) || Math.max(1, Math.min(4, availableParallelism()))
    for (let i = 0; i < size; i++) {
      // A small young generation makes the worker free each frame's buffers soon after use.
      const worker = new Worker(new URL('./frame-worker.js', import.meta.url), {
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      })
      worker.on('message', (m: Parameters<FramePool['settle']>[0]) => this.settle(m))
      worker.on('error', (err) => this.failAll(err))
      worker.unref()
      this.workers.push(worker)
      this.queued.push(0)
    }
  }

  /**
   * The frame's stored form (envelope and compressed payload). With `handOver`, the
   * caller gives up `plain`, which then moves to the worker without a copy. With `key`,
   * the frame is also encrypted.
   */
  seal(plain: Uint8Array, handOver = false, key?: Uint8Array): Promise<Uint8Array> {
    // A tiny frame (a small file's chunk list) costs less to compress here than to post.
    if (plain.length <= sealedHereBytes) return Promise.resolve(encode(plain, key))
    const owned = compact(plain)
    const transfer = handOver || owned !== plain ? [owned.buffer as ArrayBuffer] : []
    return this.run({ op: 'seal', plain: owned, key }, transfer) as Promise<Uint8Array>
  }

  /** Every blob of the frames in a ranged read, in order, checked against its id. `bytes` is handed over. */
  async open(bytes: Uint8Array, frames: FrameSpec[], where: string, key?: Uint8Array): Promise<Uint8Array[]> {
    const owned = compact(bytes)
    const task = { op: 'open' as const, bytes: owned, frames, where, key }
    const { frames: decoded, blobs } = (await this.run(task, [owned.buffer as ArrayBuffer])) as {
      frames: Uint8Array[]
      blobs: [number, number, number][]
    }
    return blobs.map(([frame, start, end]) => decoded[frame]!.subarray(start, end))
  }

  /**
   * Checks every blob of the frames in a ranged read against its id, as `open` does, but
   * keeps the plaintext in the worker (verify reads whole repositories and needs only the
   * verdict). IntegrityError on the first damage. `bytes` is handed over.
   */
  async check(bytes: Uint8Array, frames: FrameSpec[], where: string, key?: Uint8Array): Promise<void> {
    const owned = compact(bytes)
    await this.run({ op: 'check', bytes: owned, frames, where, key }, [owned.buffer as ArrayBuffer])
  }

  /**
   * The ids of blobs laid end to end in `bytes` (32 bytes each), and `bytes` given back.
   * `bytes` must own its whole buffer, and is handed over.
   */
  hashRun(bytes: Uint8Array, lengths: Uint32Array, key?: Uint8Array): Promise<{ ids: Uint8Array; bytes: Uint8Array }> {
    const transfer = [bytes.buffer as ArrayBuffer]
    return this.run({ op: 'hashRun', bytes, lengths, key }, transfer) as Promise<{ ids: Uint8Array; bytes: Uint8Array }>
  }

  /**
   * The content-defined chunks cut from `bytes` (chunk/cdc-cut.js `cutRun`): their lengths and
   * ids, and `bytes` given back; the bytes after the last chunk start the next run. `bytes`
   * (a view of its buffer) is handed over with its whole buffer.
   */
  cutRun(bytes: Uint8Array, final: boolean, params: CdcParams, key?: Uint8Array): Promise<HashedRun> {
    const task = { op: 'cutRun' as const, bytes, final, params, key }
    return this.run(task, [bytes.buffer as ArrayBuffer]) as Promise<HashedRun>
  }

  /**
   * Frames cut from pieces of `bytes` (frames.js `sealRun`), in their stored form.
   * `bytes` must own its whole buffer; everything is handed over.
   */
  sealRun(bytes: Uint8Array, pieces: Uint32Array, ends: Uint32Array, key?: Uint8Array): Promise<Uint8Array[]> {
    const transfer = [bytes, pieces, ends].map((a) => a.buffer as ArrayBuffer)
    return this.run({ op: 'sealRun', bytes, pieces, ends, key }, transfer) as Promise<Uint8Array[]>
  }

  /** The plaintext of a run of blobs, one after the other, each checked against its id. Everything is handed over. */
  readRun(spec: RunSpec, key?: Uint8Array): Promise<Uint8Array> {
    const ranges = spec.ranges.map(compact)
    const transfer = [...ranges, spec.frames, spec.blobs, spec.ids].map((a) => a.buffer as ArrayBuffer)
    return this.run({ op: 'run', ...spec, ranges, key }, transfer) as Promise<Uint8Array>
  }

  private run(task: Task, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (readBytes(task) <= readHereBytes) return runHere(task)
    const id = this.nextTask++
    const chosen = this.queued.indexOf(Math.min(...this.queued))
    this.queued[chosen]!++
    if (this.pending.size === 0) for (const w of this.workers) w.ref()
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: chosen })
      this.workers[chosen]!.postMessage({ ...task, id }, transfer)
    })
  }

  private settle(m: { id: number; result?: unknown; error?: string; damaged?: boolean }): void {
    const waiting = this.pending.get(m.id)
    if (!waiting) return
    this.pending.delete(m.id)
    this.queued[waiting.worker]!--
    if (this.pending.size === 0) for (const w of this.workers) w.unref()
    if (m.damaged) waiting.reject(new IntegrityError(m.error!))
    else if (m.error !== undefined) waiting.reject(new InternalError(`a frame worker failed: ${m.error}`))
    else waiting.resolve(m.result)
  }

  private failAll(err: Error): void {
    for (const { reject } of this.pending.values()) reject(new InternalError(`a frame worker died: ${err.message}`))
    this.pending.clear()
    this.queued.fill(0)
  }
}

/** The larger of the stored bytes a read task decodes and the plaintext it gives; Infinity for other tasks. */
function readBytes(task: Task): number {
  if (task.op === 'open') {
    let plain = 0
    for (const frame of task.frames) for (const blob of frame.blobs) plain += blob.rawLength
    return Math.max(task.bytes.length, plain)
  }
  if (task.op === 'run') {
    let plain = 0
    for (let i = 2; i < task.blobs.length; i += 3) plain += task.blobs[i]!
    return Math.max(
      task.ranges.reduce((sum, r) => sum + r.length, 0),
      plain,
    )
  }
  return Number.POSITIVE_INFINITY
}

/** A task done on this thread, settled as a worker's answer would be. */
async function runHere(task: Task): Promise<unknown> {
  let outcome: ReturnType<typeof perform>
  try {
    outcome = perform(task)
  } catch (err) {
    throw new InternalError(`decoding frames failed: ${(err as Error)?.message ?? err}`)
  }
  if ('damage' in outcome) throw new IntegrityError(outcome.damage)
  return outcome.result
}

/** A view that covers only part of its buffer is copied: posting it would copy, or hand over, the whole buffer. */
function compact(bytes: Uint8Array): Uint8Array {
  // Uint8Array's slice copies; a Buffer's slice would be another view of the same memory.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : Uint8Array.prototype.slice.call(bytes)
}
