/** A run of chunks laid end to end, with their lengths and ids (32 bytes each), in order. */
export interface HashedRun {
  bytes: Uint8Array
  lengths: Uint32Array
  ids: Uint8Array
}

/** Cuts and hashes a run off the main thread (FramePool `cutRun`); `bytes` is handed over. */
export type CutRun = (bytes: Uint8Array, final: boolean) => Promise<HashedRun>

/**
 * New bytes of the stream in each run; a run also carries the bytes after the last cut of the one
 * before (about one chunk), copied once more. Peak RSS, by hand on 2 cores, when the carry was
 * nearly max bytes (7 MiB): a PostgreSQL backup of pgbench scale 60 347-376 MiB with 4 MiB runs,
 * 302-306 MiB with 6 MiB, 295-317 MiB with 8 MiB; a Redis backup of a million keys 261 MiB with
 * 4 MiB, 252-260 MiB with 6 MiB, 282-302 MiB with 8 MiB.
 */
const newBytesPerRun = 6 * 1024 * 1024
/** A stream's first buffer: most files are small, and this grows to a run's size as needed. */
const firstBuffer = 64 * 1024

/**
 * A byte stream cut into content-defined chunks by the frame workers, as runs of hashed chunks.
 * The cut points are those of `chunkStream`: each run starts at a chunk boundary, and the bytes
 * after its last cut are carried to the front of the next run. Runs are cut one
 * after the other, while this reads the next run's bytes and the caller stores the last run.
 * The input's buffers are copied at once: the producer may reuse them.
 */
export async function* cdcRuns(input: AsyncIterable<Uint8Array>, cut: CutRun): AsyncIterable<HashedRun> {
  let fill = new Uint8Array(firstBuffer)
  let filled = 0
  let cutting: Promise<HashedRun> | undefined
  /** Starts cutting the bytes read so far behind what the run being cut leaves over, and yields that run. */
  async function* dispatch(final: boolean): AsyncIterable<HashedRun> {
    let carry: Uint8Array = new Uint8Array(0)
    const done = cutting === undefined ? undefined : await cutting
    if (done) {
      const used = done.lengths.reduce((sum, n) => sum + n, 0)
      carry = done.bytes.subarray(used)
      done.bytes = done.bytes.subarray(0, used)
    }
    let run = fill.subarray(0, filled)
    if (carry.length > 0) {
      run = uninitialized(carry.length + filled)
      run.set(carry)
      run.set(fill.subarray(0, filled), carry.length)
    }
    // The carried bytes are copied before `done` is yielded: storing it hands its buffer over.
    cutting = run.length > 0 ? cut(run, final) : undefined
    cutting?.catch(() => undefined)
    // A fill buffer whose bytes were copied behind the carry is still ours: reusing it spares
    // the garbage collector a run's worth of memory per run.
    if (run.buffer === fill.buffer) fill = uninitialized(final ? 0 : newBytesPerRun)
    filled = 0
    if (done && done.lengths.length > 0) yield done
  }
  for await (const data of input) {
    for (let off = 0; off < data.length; ) {
      if (filled === fill.length && fill.length < newBytesPerRun) {
        const grown = uninitialized(Math.min(newBytesPerRun, 2 * fill.length))
        grown.set(fill)
        fill = grown
      }
      const n = Math.min(data.length - off, fill.length - filled)
      fill.set(data.subarray(off, off + n), filled)
      filled += n
      off += n
      if (filled === newBytesPerRun) yield* dispatch(false)
    }
  }
  yield* dispatch(true)
  const last = cutting === undefined ? undefined : await cutting
  if (last && last.lengths.length > 0) yield last
}

/** A buffer of its own (not a slice of Node's pool, so it can be handed to a worker) that is not zeroed: only the bytes written to it are read. */
function uninitialized(size: number): Uint8Array<ArrayBuffer> {
  const buf = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, size)
}
