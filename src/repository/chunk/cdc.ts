/**
 * Content-defined chunking: FastCDC (Xia et al., 2016) with normalized chunking (level 2).
 *
 * The boundaries are part of the repository format: the same bytes must always give the same
 * chunks, or new snapshots stop deduplicating against old ones. Changing the seed, the PRNG, the
 * masks or the cut rule below needs a new repository version.
 *
 * Gear table: 256 32-bit values, the first 256 outputs of mulberry32 seeded with 0x64726b74
 * ('drkt' in ASCII). One step, in 32-bit integer arithmetic:
 *   s = s + 0x6d2b79f5
 *   t = imul(s ^ (s >>> 15), s | 1)
 *   t = (t + imul(t ^ (t >>> 7), t | 61)) ^ t
 *   out = t ^ (t >>> 14)
 *
 * Cut rule for the chunk that starts at the current position, with n bytes left
 * (bits = round(log2(avg))):
 * - n <= min: the rest is the chunk.
 * - Otherwise h = 0, and for each byte b at offset i = min, min + 1, ... of the chunk:
 *   h = (h << 1) + gear[b] (mod 2^32). The chunk ends after byte i (its length is i + 1) when
 *   (h & mask) == 0, where mask is the top bits + 2 bits of h while i < avg (cuts are rarer before
 *   the average size) and the top bits - 2 bits from then on (cuts are likelier after it).
 * - No match before offset min(n, max): the chunk is min(n, max) bytes.
 * The masks take the top bits because with the left shift bit k of h depends only on the last
 * k + 1 bytes: the top bit sees a 32-byte window, the low bits almost nothing.
 */

export interface CdcParams {
  /** No chunk but the last is shorter; these bytes are not hashed at all. */
  min: number
  /** The size the cut rule aims at; rounded to a power of two for the masks. */
  avg: number
  /** No chunk is longer. The chunker buffers up to 2 x max bytes. */
  max: number
}

export const defaultCdcParams: CdcParams = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 }

const GEAR = gearTable(0x64726b74)

function gearTable(seed: number): Int32Array {
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

/** The parameters with the masks worked out. */
interface Cut extends CdcParams {
  maskS: number
  maskL: number
}

function resolve({ min, avg, max }: CdcParams): Cut {
  const ok = Number.isSafeInteger(min) && Number.isSafeInteger(avg) && Number.isSafeInteger(max)
  if (!ok || min < 1 || avg < 64 || min > avg || avg > max || max > 2 ** 30) {
    throw new RangeError(`invalid chunker parameters: min ${min}, avg ${avg}, max ${max}`)
  }
  const bits = Math.round(Math.log2(avg))
  // Shift counts are taken mod 32: -1 << 0 is all 32 bits, as wanted when bits + 2 = 32.
  return { min, avg, max, maskS: -1 << (32 - (bits + 2)), maskL: -1 << (32 - (bits - 2)) }
}

/** The length of the chunk at buf[start], given n bytes there (n >= max, or all that is left). */
function cutLength(buf: Uint8Array, start: number, n: number, c: Cut): number {
  if (n <= c.min) return n
  const end = start + Math.min(n, c.max)
  let stop = start + Math.min(n, c.avg)
  let mask = c.maskS
  let h = 0
  let i = start + c.min
  for (;;) {
    // Unrolled by four: this loop is the chunker's whole cost, and unrolling makes it about twice as fast.
    for (; i + 4 <= stop; i += 4) {
      h = ((h << 1) + GEAR[buf[i]!]!) | 0
      if ((h & mask) === 0) return i + 1 - start
      h = ((h << 1) + GEAR[buf[i + 1]!]!) | 0
      if ((h & mask) === 0) return i + 2 - start
      h = ((h << 1) + GEAR[buf[i + 2]!]!) | 0
      if ((h & mask) === 0) return i + 3 - start
      h = ((h << 1) + GEAR[buf[i + 3]!]!) | 0
      if ((h & mask) === 0) return i + 4 - start
    }
    for (; i < stop; i++) {
      h = ((h << 1) + GEAR[buf[i]!]!) | 0
      if ((h & mask) === 0) return i + 1 - start
    }
    if (stop === end) return end - start
    stop = end
    mask = c.maskL
  }
}

/**
 * Cuts a byte stream into content-defined chunks. Each chunk is a fresh Uint8Array that the
 * caller owns; their concatenation is the input. The boundaries depend only on the bytes, never
 * on how the input is split into buffers. Throws RangeError at once on invalid params.
 */
export function chunkStream(
  input: AsyncIterable<Uint8Array>,
  params: CdcParams = defaultCdcParams,
): AsyncIterable<Uint8Array> {
  return chunks(input, resolve(params))
}

async function* chunks(input: AsyncIterable<Uint8Array>, c: Cut): AsyncIterable<Uint8Array> {
  const max = c.max
  // Pending bytes are buf[start, end). A cut is only looked for once max bytes are pending (or at
  // the end), so each byte is hashed once and the result cannot depend on the input's splitting.
  // buf grows to 2 x max as needed, so that small inputs (most files) stay cheap.
  let buf = new Uint8Array(Math.min(2 * max, 64 * 1024))
  let start = 0
  let end = 0
  for await (const data of input) {
    let off = 0
    while (off < data.length) {
      if (end === buf.length) {
        // Full at 2 x max means fewer than max bytes pending: moving them frees max bytes of room.
        const next = buf.length < 2 * max ? new Uint8Array(Math.min(2 * max, 2 * buf.length)) : buf
        next.set(buf.subarray(start, end))
        buf = next
        end -= start
        start = 0
      }
      const n = Math.min(data.length - off, buf.length - end)
      buf.set(data.subarray(off, off + n), end)
      end += n
      off += n
      while (end - start >= max) {
        const len = cutLength(buf, start, max, c)
        yield buf.slice(start, start + len)
        start += len
      }
    }
  }
  while (start < end) {
    const len = cutLength(buf, start, end - start, c)
    yield buf.slice(start, start + len)
    start += len
  }
}
