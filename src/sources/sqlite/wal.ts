import type { FileHandle } from 'node:fs/promises'
import { open } from 'node:fs/promises'

/**
 * Reading a SQLite write-ahead log (https://www.sqlite.org/fileformat2.html#walformat),
 * so that a snapshot can overlay the WAL's committed frames on the main file itself.
 *
 * A frame is valid when its salts match the header's and its cumulative checksum holds;
 * the log ends at the first invalid frame, and only frames up to the last commit frame
 * belong to the database. That is how SQLite itself recovers a WAL.
 */
export interface WalFrame {
  /** Byte offset of the frame header in the WAL file. */
  offset: number
  /** Checksum before this frame and after it: re-checked when the frame is read later. */
  seed: [number, number]
  sum: [number, number]
}

export interface WalIndex {
  pageSize: number
  salts: [number, number]
  bigEndian: boolean
  /** The newest committed frame of each page. */
  pages: Map<number, WalFrame>
  /** Frames up to and including the last commit. */
  frames: number
}

const headerSize = 32
const frameHeaderSize = 24

export async function readWalIndex(walPath: string): Promise<WalIndex | undefined> {
  let file: FileHandle
  try {
    file = await open(walPath, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const header = Buffer.alloc(headerSize)
    if ((await file.read(header, 0, headerSize, 0)).bytesRead < headerSize) return undefined
    const magic = header.readUInt32BE(0)
    if (magic !== 0x377f0682 && magic !== 0x377f0683) return undefined
    const bigEndian = (magic & 1) === 1
    const pageSize = header.readUInt32BE(8) || 65536
    const salts: [number, number] = [header.readUInt32BE(16), header.readUInt32BE(20)]
    let sum = walChecksum(header.subarray(0, 24), [0, 0], bigEndian)
    if (sum[0] !== header.readUInt32BE(24) || sum[1] !== header.readUInt32BE(28)) return undefined

    const pages = new Map<number, WalFrame>()
    const pending: [number, WalFrame][] = []
    const frame = Buffer.alloc(frameHeaderSize + pageSize)
    let frames = 0
    for (let n = 1; ; n++) {
      const offset = headerSize + (n - 1) * frame.length
      if ((await file.read(frame, 0, frame.length, offset)).bytesRead < frame.length) break
      const seed = sum
      const checked = checkFrame(frame, salts, seed, bigEndian)
      if (!checked) break
      sum = checked
      pending.push([frame.readUInt32BE(0), { offset, seed, sum }])
      if (frame.readUInt32BE(4) !== 0) {
        for (const [pgno, f] of pending) pages.set(pgno, f)
        pending.length = 0
        frames = n
      }
    }
    return { pageSize, salts, bigEndian, pages, frames }
  } finally {
    await file.close()
  }
}

/** The checksum after `frame` (header and page), or undefined when the frame is not valid. */
export function checkFrame(
  frame: Buffer,
  salts: [number, number],
  seed: [number, number],
  bigEndian: boolean,
): [number, number] | undefined {
  if (frame.readUInt32BE(8) !== salts[0] || frame.readUInt32BE(12) !== salts[1]) return undefined
  let sum = walChecksum(frame.subarray(0, 8), seed, bigEndian)
  sum = walChecksum(frame.subarray(frameHeaderSize), sum, bigEndian)
  if (sum[0] !== frame.readUInt32BE(16) || sum[1] !== frame.readUInt32BE(20)) return undefined
  return sum
}

/** SQLite's WAL checksum: two running 32-bit sums over pairs of words. */
export function walChecksum(data: Buffer, seed: [number, number], bigEndian: boolean): [number, number] {
  let s0 = seed[0]
  let s1 = seed[1]
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const le = !bigEndian
  for (let i = 0; i < data.length; i += 8) {
    s0 = (s0 + view.getUint32(i, le) + s1) >>> 0
    s1 = (s1 + view.getUint32(i + 4, le) + s0) >>> 0
  }
  return [s0, s1]
}

export const walFrameHeaderSize = frameHeaderSize
