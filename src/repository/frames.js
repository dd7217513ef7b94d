// @ts-check
/**
 * The stored envelope of frames and repository files, and the checks on reading them back.
 * Plain JavaScript so that the frame workers (frame-worker.js) load exactly this code,
 * in tests from the sources and in the built package alike.
 *
 * An envelope is one flag byte, then the payload: 0 = the plaintext, 1 = zstd (level 3).
 * zstd is used only when it makes the payload smaller.
 */
import { createHash } from 'node:crypto'
import { Compressor, Decompressor } from 'zstd-napi'

const raw = 0
const zstd = 1

const compressor = new Compressor()
compressor.setParameters({ compressionLevel: 3 })
const decompressor = new Decompressor()

/** Stored data that cannot be decoded or does not match its hash. */
export class DamageError extends Error {}

/**
 * @param {Uint8Array} bytes
 * @returns {string} the SHA-256 of the bytes as 64 hex digits
 */
export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * @param {Uint8Array} plain
 * @returns {Uint8Array}
 */
export function encode(plain) {
  const packed = compressor.compress(plain)
  const useZstd = packed.length + 1 < plain.length
  const body = useZstd ? packed : plain
  const out = new Uint8Array(body.length + 1)
  out[0] = useZstd ? zstd : raw
  out.set(body, 1)
  return out
}

/**
 * @param {Uint8Array} stored
 * @param {string} what names the data in the error
 * @returns {Uint8Array}
 */
export function decode(stored, what) {
  const body = stored.subarray(1)
  if (stored[0] === raw) return body
  if (stored[0] !== zstd) throw new DamageError(`${what} has an unknown encoding (${stored[0]}): it is damaged`)
  try {
    return decompressor.decompress(body)
  } catch {
    throw new DamageError(`${what} cannot be decompressed: it is damaged`)
  }
}

/**
 * @typedef {{ id: string, inner: number, rawLength: number }} BlobSpec
 * @typedef {{ start: number, length: number, blobs: BlobSpec[] }} FrameSpec
 */

/**
 * Decodes the frames of one ranged read and checks every blob against its id.
 * @param {Uint8Array} bytes the range
 * @param {FrameSpec[]} frames where each frame is in the range, and its blobs
 * @param {string} where names the pack in messages
 * @returns {{ frames: Uint8Array[], blobs: ([number, number, number] | string)[] }} the decoded frames, and
 *   for each blob in order its place in them ([frame, start, end]), or why it is damaged
 */
export function openFrames(bytes, frames, where) {
  /** @type {Uint8Array[]} */
  const decoded = []
  /** @type {([number, number, number] | string)[]} */
  const blobs = []
  for (const frame of frames) {
    let plain
    try {
      plain = decode(bytes.subarray(frame.start, frame.start + frame.length), `a frame of ${where}`)
    } catch (err) {
      for (let i = 0; i < frame.blobs.length; i++) blobs.push(/** @type {Error} */ (err).message)
      continue
    }
    const index = decoded.push(plain) - 1
    for (const blob of frame.blobs) {
      const end = blob.inner + blob.rawLength
      if (end > plain.length || sha256(plain.subarray(blob.inner, end)) !== blob.id) {
        blobs.push(`chunk ${blob.id.slice(0, 12)} in ${where} does not match its hash: the stored data is damaged`)
      } else blobs.push([index, blob.inner, end])
    }
  }
  return { frames: decoded, blobs }
}
