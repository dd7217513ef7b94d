import { readSync } from 'node:fs'
import fs from 'node:fs/promises'

interface Entry {
  opened: Promise<{ handle: fs.FileHandle; size: number }>
  users: number
  timer?: NodeJS.Timeout
}

/** How long a handle stays open after its last read, and how many stay open at most. */
const idleMs = 1000
const maxOpen = 32
/**
 * Ranges up to this size are read with a blocking call: from the page cache it takes
 * microseconds, where a round trip through libuv's thread pool cost tens of microseconds of
 * CPU in thread hand-offs (a restore of many small files reads one or two ranges per file).
 */
const readNowBytes = 256 * 1024

/**
 * Reads ranges of files through handles kept open for a moment between reads. A restore reads
 * a pack in many ranges (a tree of small files: one or more per file); opening, sizing and
 * closing the pack for each range were three more round trips through libuv's thread pool,
 * and on 2 cores those hand-offs cost more CPU than the reads. Objects read in ranges are
 * immutable (packs); the backend forgets a handle when it replaces or deletes the file.
 */
export class RangeReader {
  private readonly entries = new Map<string, Entry>()

  /** `length` bytes at `offset` of `file`; `checkSize` is given the file's size first. */
  async read(file: string, offset: number, length: number, checkSize: (size: number) => void): Promise<Buffer> {
    const entry = this.use(file)
    try {
      const { handle, size } = await entry.opened
      checkSize(size)
      const out = Buffer.allocUnsafe(length)
      for (let done = 0; done < length; ) {
        const bytesRead =
          length <= readNowBytes
            ? readSync(handle.fd, out, done, length - done, offset + done)
            : (await handle.read(out, done, length - done, offset + done)).bytesRead
        // The file ended early (truncated since it was sized): report it as the object being short.
        if (bytesRead === 0) checkSize(offset + done)
        done += bytesRead
      }
      return out
    } catch (err) {
      // A handle that failed is not kept: the next read opens the file again.
      if (this.entries.get(file) === entry) this.entries.delete(file)
      throw err
    } finally {
      this.release(file, entry)
    }
  }

  /** Closes the handle of `file` (once its reads end): the file was replaced or deleted. */
  forget(file: string): void {
    const entry = this.entries.get(file)
    if (!entry) return
    this.entries.delete(file)
    if (entry.users === 0) close(entry)
  }

  close(): void {
    for (const file of [...this.entries.keys()]) this.forget(file)
  }

  private use(file: string): Entry {
    let entry = this.entries.get(file)
    if (entry) {
      // Most recently used last: the first entry is the one to close when too many are open.
      this.entries.delete(file)
      clearTimeout(entry.timer)
    } else {
      entry = { opened: openSized(file), users: 0 }
      entry.opened.catch(() => undefined)
    }
    this.entries.set(file, entry)
    entry.users++
    if (this.entries.size > maxOpen) this.forget(this.entries.keys().next().value!)
    return entry
  }

  private release(file: string, entry: Entry): void {
    entry.users--
    if (entry.users > 0) return
    if (this.entries.get(file) !== entry) {
      close(entry)
      return
    }
    entry.timer = setTimeout(() => this.forget(file), idleMs)
    entry.timer.unref()
  }
}

/** A regular file opened for reading, with its size; ENOENT when it is not a regular file. */
async function openSized(file: string): Promise<{ handle: fs.FileHandle; size: number }> {
  const handle = await fs.open(file, 'r')
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOENT' })
    return { handle, size: stat.size }
  } catch (err) {
    await handle.close()
    throw err
  }
}

function close(entry: Entry): void {
  clearTimeout(entry.timer)
  entry.opened.then(({ handle }) => handle.close()).catch(() => undefined)
}
