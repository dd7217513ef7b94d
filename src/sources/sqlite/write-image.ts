import type { FileHandle } from 'node:fs/promises'
import type { StoredImage } from '../source.js'

const batchSize = 4 * 1024 * 1024
const writesInFlight = 4

/**
 * Writes an image's streams, in order, to an open file and returns the bytes written.
 * Pages are gathered into large vectored writes without copying them (one system call
 * per page was most of a restore's time), and several writes run at once so that reading
 * the next pages goes on while the kernel takes the previous ones.
 */
export async function writeImage(image: StoredImage, file: FileHandle): Promise<number> {
  const pending = new Set<Promise<unknown>>()
  let failure: unknown
  let batch: Uint8Array[] = []
  let batchBytes = 0
  let bytes = 0
  const flush = async () => {
    if (batchBytes === 0) return
    while (pending.size >= writesInFlight) await Promise.race(pending)
    if (failure !== undefined) throw failure
    const done: Promise<unknown> = file.writev(batch, bytes - batchBytes).then(
      (): unknown => pending.delete(done),
      (err: unknown) => {
        failure ??= err
        pending.delete(done)
      },
    )
    pending.add(done)
    batch = []
    batchBytes = 0
  }
  for await (const stream of image.streams) {
    for await (const chunk of stream.data) {
      batch.push(chunk)
      batchBytes += chunk.length
      bytes += chunk.length
      if (batchBytes >= batchSize || batch.length >= 1024) await flush()
    }
  }
  await flush()
  await Promise.all(pending)
  if (failure !== undefined) throw failure
  return bytes
}
