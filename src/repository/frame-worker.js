// @ts-check
/** A frame worker: compresses frames for writers and opens them for readers, off the main thread. */
import { parentPort } from 'node:worker_threads'
import { perform } from './frame-tasks.js'

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort)

port.on('message', (task) => {
  try {
    const outcome = perform(task)
    if ('damage' in outcome) port.postMessage({ id: task.id, error: outcome.damage, damaged: true })
    else port.postMessage({ id: task.id, result: outcome.result }, outcome.transfer)
  } catch (err) {
    port.postMessage({ id: task.id, error: String(/** @type {Error} */ (err)?.message ?? err) })
  }
})
