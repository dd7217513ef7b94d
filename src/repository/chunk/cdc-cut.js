// @ts-check
/**
 * The FastCDC cut rule (documented in cdc.ts), in plain JavaScript so that the frame workers
 * (frame-worker.js) run exactly the code that the main thread's chunker runs: the cut points
 * are part of the repository format and must not depend on where they are computed.
 */

/** @typedef {{ min: number, avg: number, max: number }} CdcParams */
/** @typedef {CdcParams & { maskS: number, maskL: number }} Cut the parameters with the masks worked out */

const GEAR = gearTable(0x64726b74)

/**
 * @param {number} seed
 * @returns {Int32Array}
 */
function gearTable(seed) {
  // Int32Array: same bits as the documented uint32 values, and keeps V8 on its small-integer path.
  const table = new Int32Array(256)
  let s = seed | 0
  for (let k = 0; k < 256; k++) {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t
    table[k] = t ^ (t >>> 14)
  }
  return table
}

/**
 * The parameters with the masks worked out; RangeError when they are invalid.
 * @param {CdcParams} params
 * @returns {Cut}
 */
export function resolveCut({ min, avg, max }) {
  const ok = Number.isSafeInteger(min) && Number.isSafeInteger(avg) && Number.isSafeInteger(max)
  if (!ok || min < 1 || avg < 64 || min > avg || avg > max || max > 2 ** 30) {
    throw new RangeError(`invalid chunker parameters: min ${min}, avg ${avg}, max ${max}`)
  }
  const bits = Math.round(Math.log2(avg))
  // Shift counts are taken mod 32: -1 << 0 is all 32 bits, as wanted when bits + 2 = 32.
  return { min, avg, max, maskS: -1 << (32 - (bits + 2)), maskL: -1 << (32 - (bits - 2)) }
}

/**
 * The length of the chunk at buf[start], given n bytes there (n >= max, or all that is left).
 * @param {Uint8Array} buf
 * @param {number} start
 * @param {number} n
 * @param {Cut} c
 * @returns {number}
 */
export function cutLength(buf, start, n, c) {
  if (n <= c.min) return n
  const end = start + Math.min(n, c.max)
  let stop = start + Math.min(n, c.avg)
  let mask = c.maskS
  let h = 0
  let i = start + c.min
  const gear = GEAR
  for (;;) {
    // Unrolled by four: this loop is the chunker's whole cost, and unrolling makes it about twice as fast.
    for (; i + 4 <= stop; i += 4) {
      h = ((h << 1) + /** @type {number} */ (gear[/** @type {number} */ (buf[i])])) | 0
      if ((h & mask) === 0) return i + 1 - start
      h = ((h << 1) + /** @type {number} */ (gear[/** @type {number} */ (buf[i + 1])])) | 0
      if ((h & mask) === 0) return i + 2 - start
      h = ((h << 1) + /** @type {number} */ (gear[/** @type {number} */ (buf[i + 2])])) | 0
      if ((h & mask) === 0) return i + 3 - start
      h = ((h << 1) + /** @type {number} */ (gear[/** @type {number} */ (buf[i + 3])])) | 0
      if ((h & mask) === 0) return i + 4 - start
    }
    for (; i < stop; i++) {
      h = ((h << 1) + /** @type {number} */ (gear[/** @type {number} */ (buf[i])])) | 0
      if ((h & mask) === 0) return i + 1 - start
    }
    if (stop === end) return end - start
    stop = end
    mask = c.maskL
  }
}

/**
 * The lengths of the chunks cut from `bytes`, which starts at a chunk boundary: the cuts the
 * streaming chunker makes in them. The bytes after the last cut are where the next run
 * starts; with `final`, the stream ends with `bytes` and all of it is cut.
 * @param {Uint8Array} bytes
 * @param {boolean} final
 * @param {CdcParams} params
 * @returns {Uint32Array}
 */
export function cutRun(bytes, final, params) {
  const c = resolveCut(params)
  /** @type {number[]} */
  const lengths = []
  let start = 0
  while (bytes.length - start >= c.max || (final && start < bytes.length)) {
    const len = cutLength(bytes, start, Math.min(bytes.length - start, c.max), c)
    lengths.push(len)
    start += len
  }
  // With fewer than max bytes left, a cut found before their end is still the streaming
  // chunker's (a cut depends only on the bytes before it): only what follows the last one is
  // carried to the next run, about one chunk instead of nearly max bytes.
  for (let left = bytes.length - start; !final && left > 0; left = bytes.length - start) {
    const len = cutLength(bytes, start, left, c)
    if (len >= left) break
    lengths.push(len)
    start += len
  }
  return Uint32Array.from(lengths)
}
