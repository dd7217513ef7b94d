// @ts-check
/** A frame worker: compresses frames for writers and opens them for readers, off the main thread. */
import { parentPort } from 'node:worker_threads'
import { cutRun } from './chunk/cdc-cut.js'
import { encode, hashRun, openFrames, readRun, sealRun } from './frames.js'

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort)

port.on('message', (task) => {
  try {
    if (task.op === 'seal') {
      const stored = encode(task.plain, task.key)
      port.postMessage({ id: task.id, result: stored }, [/** @type {ArrayBuffer} */ (stored.buffer)])
      return
    }
    if (task.op === 'hashRun') {
      const ids = hashRun(task.bytes, task.lengths, task.key)
      const result = { ids, bytes: task.bytes }
      port.postMessage({ id: task.id, result }, [/** @type {ArrayBuffer} */ (ids.buffer), task.bytes.buffer])
      return
    }
    if (task.op === 'cutRun') {
      // Content-defined chunks cut and hashed here, so that the main thread only reads and stores.
      const lengths = cutRun(task.bytes, task.final, task.params)
      const ids = hashRun(task.bytes, lengths, task.key)
      const result = { ids, lengths, bytes: task.bytes }
      const transfer = [ids.buffer, lengths.buffer, task.bytes.buffer]
      port.postMessage({ id: task.id, result }, /** @type {ArrayBuffer[]} */ (transfer))
      return
    }
    if (task.op === 'sealRun') {
      const stored = sealRun(task.bytes, task.pieces, task.ends, task.key)
      port.postMessage(
        { id: task.id, result: stored },
        stored.map((f) => /** @type {ArrayBuffer} */ (f.buffer)),
      )
      return
    }
    if (task.op === 'run') {
      const run = readRun(task.ranges, task.where, task.frames, task.blobs, task.ids, task.key)
      if (typeof run === 'string') port.postMessage({ id: task.id, error: run, damaged: true })
      else port.postMessage({ id: task.id, result: run }, [/** @type {ArrayBuffer} */ (run.buffer)])
      return
    }
    if (task.op === 'check') {
      // One frame at a time, each dropped once checked: a whole pack's plaintext is never held.
      for (const frame of task.frames) {
        const damage = openFrames(task.bytes, [frame], task.where, task.key).blobs.find((b) => typeof b === 'string')
        if (damage !== undefined) {
          port.postMessage({ id: task.id, error: damage, damaged: true })
          return
        }
      }
      port.postMessage({ id: task.id, result: null })
      return
    }
    // Decoded frames go back without a copy; each blob is a place in one of them.
    const { frames, blobs } = openFrames(task.bytes, task.frames, task.where, task.key)
    const damage = blobs.find((b) => typeof b === 'string')
    if (damage !== undefined) {
      port.postMessage({ id: task.id, error: damage, damaged: true })
      return
    }
    // Uint8Array's slice copies (a Buffer's would not): only whole buffers may be handed over.
    const owned = frames.map((f) =>
      f.byteOffset === 0 && f.byteLength === f.buffer.byteLength ? f : Uint8Array.prototype.slice.call(f),
    )
    port.postMessage(
      { id: task.id, result: { frames: owned, blobs } },
      owned.map((f) => /** @type {ArrayBuffer} */ (f.buffer)),
    )
  } catch (err) {
    port.postMessage({ id: task.id, error: String(/** @type {Error} */ (err)?.message ?? err) })
  }
})
