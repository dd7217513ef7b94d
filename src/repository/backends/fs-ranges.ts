import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import fs from 'node:fs/promises'

/**
 * Ranges up to this size are read with blocking calls: from the page cache open, fstat, read
 * and close take microseconds, where four round trips through libuv's thread pool cost tens of
 * microseconds of CPU each in thread hand-offs (a restore of many small files reads one or two
 * ranges per file).
 */
const readNowBytes = 256 * 1024

/** `length` bytes at `offset` of `file`; `checkSize` is given the file's size first, and throws if the range does not fit. */
export async function readRange(
  file: string,
  offset: number,
  length: number,
  checkSize: (size: number) => void,
): Promise<Buffer> {
  return length <= readNowBytes
    ? readRangeNow(file, offset, length, checkSize)
    : readRangeLater(file, offset, length, checkSize)
}

function readRangeNow(file: string, offset: number, length: number, checkSize: (size: number) => void): Buffer {
  const fd = openSync(file, 'r')
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw notAFile(file)
    checkSize(stat.size)
    const out = Buffer.allocUnsafe(length)
    for (let done = 0; done < length; ) {
      const bytesRead = readSync(fd, out, done, length - done, offset + done)
      // The file ended early (truncated since the stat): report it as the object being short.
      if (bytesRead === 0) checkSize(offset + done)
      done += bytesRead
    }
    return out
  } finally {
    closeSync(fd)
  }
}

async function readRangeLater(
  file: string,
  offset: number,
  length: number,
  checkSize: (size: number) => void,
): Promise<Buffer> {
  const handle = await fs.open(file, 'r')
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw notAFile(file)
    checkSize(stat.size)
    const out = Buffer.allocUnsafe(length)
    for (let done = 0; done < length; ) {
      const { bytesRead } = await handle.read(out, done, length - done, offset + done)
      if (bytesRead === 0) checkSize(offset + done)
      done += bytesRead
    }
    return out
  } finally {
    await handle.close()
  }
}

/** Reported as missing: the key names a directory or something else, not an object. */
function notAFile(file: string): Error {
  return Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOENT' })
}
