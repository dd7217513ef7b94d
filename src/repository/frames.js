// @ts-check
/**
 * The stored envelope of frames and repository files, and the checks on reading them back.
 * Plain JavaScript so that the frame workers (frame-worker.js) load exactly this code,
 * in tests from the sources and in the built package alike.
 *
 * An envelope is one flag byte, then the payload: 0 = the plaintext, 1 = zstd (level 2: on
 * database pages it needs a quarter less CPU than level 3 for output under 1% larger).
 * zstd is used only when it makes the payload smaller. In an encrypted repository every
 * envelope is sealed with AES-256-GCM: flag 2, a random 12-byte nonce, the ciphertext of
 * the plain envelope (flag 0 or 1 and its payload), and the 16-byte tag.
 *
 * `key` is the repository's master key, 64 bytes: the AES-256 key, then the HMAC key
 * that names blobs. Without it (a plain repository) blobs are named by their SHA-256.
 */
import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { Compressor, Decompressor } from 'zstd-napi'

const raw = 0
const zstd = 1
const sealed = 2
const nonceLength = 12
const tagLength = 16

/** zstd's own context, to decompress into a buffer of ours (Decompressor allocates one per call). */
const zstdBinding = /** @type {typeof import('zstd-napi/binding.js')} */ (
  createRequire(import.meta.url)('zstd-napi/binding.js')
)
const zstdContext = new zstdBinding.DCtx()

const compressor = new Compressor()
compressor.setParameters({ compressionLevel: 2 })
const decompressor = new Decompressor()

/** Stored data that cannot be decoded or does not match its hash. */
export class DamageError extends Error {}

/**
 * @param {Uint8Array} bytes
 * @returns {string} the SHA-256 of the bytes as 64 hex digits
 */
export function sha256(bytes) {
  // The one-shot hash: for 4 KiB pages a third cheaper than createHash().update().digest().
  return hash('sha256', bytes, 'hex')
}

/**
 * A blob's id: the HMAC-SHA-256 of its plaintext with the repository's id key, so that ids
 * reveal nothing of the content; the SHA-256 in a plain repository.
 * @param {Uint8Array} plain
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {string} 64 hex digits
 */
export function blobId(plain, key) {
  if (!key) return sha256(plain)
  return createHmac('sha256', key.subarray(32, 64)).update(plain).digest('hex')
}

/**
 * A blob's id as 32 bytes (see blobId).
 * @param {Uint8Array} plain
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Buffer}
 */
export function blobDigest(plain, key) {
  return key ? createHmac('sha256', key.subarray(32, 64)).update(plain).digest() : hash('sha256', plain, 'buffer')
}

/**
 * @param {Uint8Array} plain
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Uint8Array}
 */
export function encode(plain, key) {
  return key ? seal(compress(plain), key) : compress(plain)
}

/**
 * @param {Uint8Array} plain
 * @returns {Uint8Array}
 */
function compress(plain) {
  const packed = compressor.compress(plain)
  const useZstd = packed.length + 1 < plain.length
  const body = useZstd ? packed : plain
  const out = new Uint8Array(body.length + 1)
  out[0] = useZstd ? zstd : raw
  out.set(body, 1)
  return out
}

/**
 * @param {Uint8Array} envelope
 * @param {Uint8Array} key
 * @returns {Uint8Array}
 */
function seal(envelope, key) {
  const nonce = randomBytes(nonceLength)
  const cipher = createCipheriv('aes-256-gcm', key.subarray(0, 32), nonce)
  const out = new Uint8Array(1 + nonceLength + envelope.length + tagLength)
  out[0] = sealed
  out.set(nonce, 1)
  const body = cipher.update(envelope)
  out.set(body, 1 + nonceLength)
  const rest = cipher.final()
  out.set(rest, 1 + nonceLength + body.length)
  out.set(cipher.getAuthTag(), 1 + nonceLength + body.length + rest.length)
  return out
}

/**
 * @param {Uint8Array} stored
 * @param {string} what names the data in the error
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Uint8Array}
 */
export function decode(stored, what, key) {
  if (key) return decompress(open(stored, what, key), what)
  if (stored[0] === sealed) throw new DamageError(`${what} is encrypted, but the repository is not: it is damaged`)
  return decompress(stored, what)
}

/**
 * The plain envelope inside a sealed one; DamageError unless it authenticates with the key.
 * @param {Uint8Array} stored
 * @param {string} what
 * @param {Uint8Array} key
 * @returns {Uint8Array}
 */
function open(stored, what, key) {
  // A plain object in an encrypted repository was not written by drkit with this key.
  if (stored[0] !== sealed) throw new DamageError(`${what} is not encrypted, but the repository is: it is damaged`)
  if (stored.length < 1 + nonceLength + tagLength) throw new DamageError(`${what} is truncated: it is damaged`)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.subarray(0, 32), stored.subarray(1, 1 + nonceLength))
    decipher.setAuthTag(stored.subarray(stored.length - tagLength))
    const body = decipher.update(stored.subarray(1 + nonceLength, stored.length - tagLength))
    const rest = decipher.final()
    return rest.length === 0 ? body : Buffer.concat([body, rest])
  } catch {
    throw new DamageError(`${what} fails authentication: it is damaged or was tampered with`)
  }
}

/**
 * @param {Uint8Array} stored
 * @param {string} what
 * @returns {Uint8Array}
 */
function decompress(stored, what) {
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
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {{ frames: Uint8Array[], blobs: ([number, number, number] | string)[] }} the decoded frames, and
 *   for each blob in order its place in them ([frame, start, end]), or why it is damaged
 */
export function openFrames(bytes, frames, where, key) {
  /** @type {Uint8Array[]} */
  const decoded = []
  /** @type {([number, number, number] | string)[]} */
  const blobs = []
  for (const frame of frames) {
    let plain
    try {
      plain = decode(bytes.subarray(frame.start, frame.start + frame.length), `a frame of ${where}`, key)
    } catch (err) {
      for (let i = 0; i < frame.blobs.length; i++) blobs.push(/** @type {Error} */ (err).message)
      continue
    }
    const index = decoded.push(plain) - 1
    for (const blob of frame.blobs) {
      const end = blob.inner + blob.rawLength
      if (end > plain.length || blobId(plain.subarray(blob.inner, end), key) !== blob.id) {
        blobs.push(`chunk ${blob.id.slice(0, 12)} in ${where} does not match its hash: the stored data is damaged`)
      } else blobs.push([index, blob.inner, end])
    }
  }
  return { frames: decoded, blobs }
}

/**
 * The plaintext of a run of a stream's blobs, in order, from the ranged reads that hold
 * their frames: each frame is decoded once and each blob checked against its id once,
 * however often the run repeats it. A frame whose blobs come in the run in their order,
 * all of them, is decompressed straight into its place in the result (the common case:
 * a full image), any other into a buffer of its own. Descriptions are flat arrays, cheap
 * to post to a worker.
 * @param {Uint8Array[]} ranges ranged reads of packs
 * @param {string[]} where names each range's pack in messages
 * @param {Uint32Array} frames for each frame: its range, its start in the range, its stored length
 * @param {Uint32Array} blobs for each blob in order: its frame, its start in the frame's plaintext, its length
 * @param {Uint8Array} ids the blobs' ids, 32 bytes each, in order
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Uint8Array | string} the blobs one after the other, or why one of them is damaged
 */
export function readRun(ranges, where, frames, blobs, ids, key) {
  const count = blobs.length / 3
  const field = (/** @type {Uint32Array} */ a, /** @type {number} */ i) => /** @type {number} */ (a[i])
  let total = 0
  for (let b = 0; b < count; b++) total += field(blobs, b * 3 + 2)
  const out = new Uint8Array(total)
  const idBytes = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength)
  /** @type {(Uint8Array | undefined)[]} */
  const decoded = []
  /** Blobs already checked, by frame and start: the blob whose id they matched. */
  const checked = new Map()
  const stored = (/** @type {number} */ f) => {
    const start = field(frames, f * 3 + 1)
    return /** @type {Uint8Array} */ (ranges[field(frames, f * 3)]).subarray(start, start + field(frames, f * 3 + 2))
  }
  const what = (/** @type {number} */ f) => `a frame of ${where[field(frames, f * 3)]}`
  /** Checks blob b, found at plain[inner, end), against its id, unless a blob with the same id was checked there. */
  const check = (/** @type {number} */ b, /** @type {Uint8Array} */ plain, /** @type {number} */ inner) => {
    const f = field(blobs, b * 3)
    const end = inner + field(blobs, b * 3 + 2)
    const place = f * 2 ** 32 + field(blobs, b * 3 + 1)
    const seen = checked.get(place)
    if (seen !== undefined && idBytes.compare(idBytes, seen * 32, seen * 32 + 32, b * 32, b * 32 + 32) === 0) return
    if (end > plain.length || blobDigest(plain.subarray(inner, end), key).compare(idBytes, b * 32, b * 32 + 32) !== 0) {
      const hex = idBytes.toString('hex', b * 32, b * 32 + 6)
      throw new DamageError(
        `chunk ${hex} in ${where[field(frames, f * 3)]} does not match its hash: the stored data is damaged`,
      )
    }
    checked.set(place, b)
  }
  try {
    let at = 0
    for (let b = 0; b < count; ) {
      const f = field(blobs, b * 3)
      if (decoded[f] === undefined && field(blobs, b * 3 + 1) === 0) {
        // The blobs from b on that are frame f's in its order: if they are all of it, it is decoded in place.
        let e = b
        let size = 0
        while (e < count && field(blobs, e * 3) === f && field(blobs, e * 3 + 1) === size)
          size += field(blobs, e++ * 3 + 2)
        const place = out.subarray(at, at + size)
        if (decodeInto(stored(f), place, what(f), key)) {
          decoded[f] = place
          for (let inner = 0; b < e; b++) {
            check(b, place, inner)
            inner += field(blobs, b * 3 + 2)
          }
          at += size
          continue
        }
      }
      let plain = decoded[f]
      if (plain === undefined) {
        plain = decode(stored(f), what(f), key)
        decoded[f] = plain
      }
      const inner = field(blobs, b * 3 + 1)
      check(b, plain, inner)
      out.set(plain.subarray(inner, inner + field(blobs, b * 3 + 2)), at)
      at += field(blobs, b * 3 + 2)
      b++
    }
  } catch (err) {
    if (err instanceof DamageError) return err.message
    throw err
  }
  return out
}

/**
 * Decodes a stored envelope into `dst` when its plaintext is exactly `dst.length` bytes;
 * false, with nothing decoded, when it is another size. DamageError as `decode`.
 * @param {Uint8Array} stored
 * @param {Uint8Array} dst
 * @param {string} what
 * @param {Uint8Array} [key]
 * @returns {boolean}
 */
function decodeInto(stored, dst, what, key) {
  if (!key && stored[0] === sealed)
    throw new DamageError(`${what} is encrypted, but the repository is not: it is damaged`)
  const envelope = key ? open(stored, what, key) : stored
  const body = envelope.subarray(1)
  if (envelope[0] === raw) {
    if (body.length !== dst.length) return false
    dst.set(body)
    return true
  }
  if (envelope[0] !== zstd) throw new DamageError(`${what} has an unknown encoding (${envelope[0]}): it is damaged`)
  try {
    if (zstdBinding.getFrameContentSize(body) !== dst.length) return false
    return zstdContext.decompress(dst, body) === dst.length
  } catch {
    throw new DamageError(`${what} cannot be decompressed: it is damaged`)
  }
}

/**
 * The ids (see blobDigest) of consecutive blobs laid end to end in `bytes`.
 * @param {Uint8Array} bytes
 * @param {Uint32Array} lengths each blob's length, in order
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Uint8Array} 32 bytes per blob, in order
 */
export function hashRun(bytes, lengths, key) {
  const ids = new Uint8Array(lengths.length * 32)
  let at = 0
  for (let i = 0; i < lengths.length; i++) {
    const end = at + /** @type {number} */ (lengths[i])
    ids.set(blobDigest(bytes.subarray(at, end), key), i * 32)
    at = end
  }
  return ids
}

/**
 * Frames cut from `bytes` and sealed (see encode): frame k is the concatenation of the
 * pieces from `ends[k - 1]` (0 for the first) up to `ends[k]`; piece p is
 * `bytes[pieces[2p], pieces[2p + 1])`. A frame of one piece is sealed without a copy.
 * @param {Uint8Array} bytes
 * @param {Uint32Array} pieces start and end of each piece
 * @param {Uint32Array} ends the number of pieces up to the end of each frame
 * @param {Uint8Array} [key] the master key of an encrypted repository
 * @returns {Uint8Array[]} the stored frames, in order
 */
export function sealRun(bytes, pieces, ends, key) {
  /** @type {Uint8Array[]} */
  const stored = []
  let first = 0
  for (const end of ends) {
    let plain
    if (end - first === 1) plain = bytes.subarray(/** @type {number} */ (pieces[2 * first]), pieces[2 * first + 1])
    else {
      let length = 0
      for (let p = first; p < end; p++)
        length += /** @type {number} */ (pieces[2 * p + 1]) - /** @type {number} */ (pieces[2 * p])
      plain = new Uint8Array(length)
      for (let p = first, at = 0; p < end; p++) {
        const piece = bytes.subarray(/** @type {number} */ (pieces[2 * p]), pieces[2 * p + 1])
        plain.set(piece, at)
        at += piece.length
      }
    }
    stored.push(encode(plain, key))
    first = end
  }
  return stored
}
