/**
 * Content-defined chunking: FastCDC (Xia et al., 2016) with normalized chunking (level 2).
 *
 * The boundaries are part of the repository format: the same bytes must always give the same
 * chunks, or new snapshots stop deduplicating against old ones. Changing the seed, the PRNG, the
 * masks or the cut rule below needs a new repository version. The rule is implemented once, in
 * cdc-cut.js, which the frame workers also load (backups cut there, see ../cdc-runs.ts).
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

import { cutLength, resolveCut } from './cdc-cut.js'

export interface CdcParams {
  /** No chunk but the last is shorter; these bytes are not hashed at all. */
  min: number
  /** The size the cut rule aims at; rounded to a power of two for the masks. */
  avg: number
  /** No chunk is longer. The chunker buffers up to 2 x max bytes. */
  max: number
}

export const defaultCdcParams: CdcParams = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 }

type Cut = ReturnType<typeof resolveCut>

/**
 * Cuts a byte stream into content-defined chunks. Each chunk is a fresh Uint8Array that the
 * caller owns; their concatenation is the input. The boundaries depend only on the bytes, never
 * on how the input is split into buffers. Throws RangeError at once on invalid params.
 */
export function chunkStream(
  input: AsyncIterable<Uint8Array>,
  params: CdcParams = defaultCdcParams,
): AsyncIterable<Uint8Array> {
  return chunks(input, resolveCut(params))
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
