// @ts-check
/**
 * What a frame worker does with a task (frame-worker.js), in a module of its own so that
 * FramePool can also run a small task on the calling thread: posting it to a worker and
 * back costs two thread wake-ups, more than decoding a few KiB.
 */
import { cutRun } from './chunk/cdc-cut.js'
import { encode, hashRun, openFrames, readRun, sealRun } from './frames.js'

/**
 * @typedef {{ result: unknown, transfer: ArrayBuffer[] } | { damage: string }} Outcome
 * The result and the buffers it may hand over, or what is damaged.
 */

/**
 * @param {any} task
 * @returns {Outcome}
 */
export function perform(task) {
  if (task.op === 'seal') {
    const stored = encode(task.plain, task.key)
    return { result: stored, transfer: [/** @type {ArrayBuffer} */ (stored.buffer)] }
  }
  if (task.op === 'hashRun') {
    const ids = hashRun(task.bytes, task.lengths, task.key)
    return { result: { ids, bytes: task.bytes }, transfer: [ids.buffer, task.bytes.buffer] }
  }
  if (task.op === 'cutRun') {
    // Content-defined chunks cut and hashed here, so that the main thread only reads and stores.
    const lengths = cutRun(task.bytes, task.final, task.params)
    const ids = hashRun(task.bytes, lengths, task.key)
    return { result: { ids, lengths, bytes: task.bytes }, transfer: [ids.buffer, lengths.buffer, task.bytes.buffer] }
  }
  if (task.op === 'sealRun') {
    const stored = sealRun(task.bytes, task.pieces, task.ends, task.key)
    return { result: stored, transfer: stored.map((f) => /** @type {ArrayBuffer} */ (f.buffer)) }
  }
  if (task.op === 'run') {
    const run = readRun(task.ranges, task.where, task.frames, task.blobs, task.ids, task.key)
    return typeof run === 'string'
      ? { damage: run }
      : { result: run, transfer: [/** @type {ArrayBuffer} */ (run.buffer)] }
  }
  if (task.op === 'check') {
    // One frame at a time, each dropped once checked: a whole pack's plaintext is never held.
    for (const frame of task.frames) {
      const damage = openFrames(task.bytes, [frame], task.where, task.key).blobs.find((b) => typeof b === 'string')
      if (damage !== undefined) return { damage }
    }
    return { result: null, transfer: [] }
  }
  // Decoded frames go back without a copy; each blob is a place in one of them.
  const { frames, blobs } = openFrames(task.bytes, task.frames, task.where, task.key)
  const damage = blobs.find((b) => typeof b === 'string')
  if (damage !== undefined) return { damage }
  // Uint8Array's slice copies (a Buffer's would not): only whole buffers may be handed over.
  const owned = frames.map((f) =>
    f.byteOffset === 0 && f.byteLength === f.buffer.byteLength ? f : Uint8Array.prototype.slice.call(f),
  )
  return { result: { frames: owned, blobs }, transfer: owned.map((f) => /** @type {ArrayBuffer} */ (f.buffer)) }
}
