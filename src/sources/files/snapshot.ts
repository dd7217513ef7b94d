import { type BigIntStats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { type FileHandle, open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { NamedStream, ParentImage, ParentStream, SourceImage, TableInfo } from '../source.js'
import { unchangedSince } from './parent.js'
import type { PathMatcher } from './pattern.js'
import { fileStreamName, formatTreeLine, maxChangedPaths } from './tree.js'
import { cannotRead, isGone, type WalkedEntry, type WalkReport, walkTree } from './walk.js'

/** Files are read, and the listing is handed on, in blocks of up to this size. */
const blockSize = 1024 * 1024

/**
 * An image of a directory tree: first the listing (stream `tree`), then one `cdc` stream
 * per regular file in listing order (`file:<path>`). One stream per file means an unchanged
 * file stores nothing at all, whatever its neighbours do, and an insertion in a large file
 * stores about one chunk.
 *
 * A tree being written to is imaged best effort, file by file: each file is read up to the
 * size the walk saw, and a file whose size, mtime or inode differs after the read (or that
 * vanished) is counted in `details.changedFiles` and named in `details.changedPaths`. The
 * counts in `details` and `tables` are filled in as the streams are consumed.
 *
 * With a parent snapshot, a file that has not changed since (see `unchangedSince`) is not
 * read: its stream is the parent's, and `details.reusedFiles` counts such files.
 */
export async function snapshotFiles(root: string, excluded: PathMatcher, parent?: ParentImage): Promise<SourceImage> {
  const time = new Date().toISOString()
  const rootStat = await stat(root, { bigint: true })
  const unchanged = await unchangedSince(parent)
  const details = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    bytes: 0,
    changedFiles: 0,
    changedPaths: '[]',
    skipped: 0,
    reusedFiles: 0,
    ...(parent ? { parent: parent.id } : {}),
  }
  const tables: TableInfo[] = [{ name: 'files', rows: 0 }]
  const report: WalkReport = { vanished: [], skipped: [] }
  const files: { entry: WalkedEntry; reuse: boolean }[] = []
  const changed: string[] = []
  const noteChanged = (path: string) => {
    changed.push(path)
    details.changedFiles = changed.length
    details.changedPaths = JSON.stringify(changed.slice(0, maxChangedPaths))
  }

  async function* listing(): AsyncIterable<Uint8Array> {
    let block = formatTreeLine({ drkitTree: 1, mode: Number(rootStat.mode & 0o7777n), mtimeNs: `${rootStat.mtimeNs}` })
    for await (const entry of walkTree(root, excluded, report)) {
      const { ino, ctimeNs, ...listed } = entry
      block += formatTreeLine(entry.type === 'file' ? { ...listed, ctimeNs, ino: `${ino}` } : listed)
      tables[0]!.rows++
      if (entry.type === 'file') {
        const reuse = unchanged(entry)
        files.push({ entry, reuse })
        details.files++
        details.bytes += entry.size
        if (reuse) details.reusedFiles++
      } else if (entry.type === 'dir') details.dirs++
      else details.symlinks++
      if (block.length >= blockSize) {
        yield Buffer.from(block)
        block = ''
      }
    }
    if (block.length > 0) yield Buffer.from(block)
    details.skipped = report.skipped.length
    for (const path of report.vanished) noteChanged(path)
  }

  async function* streams(): AsyncIterable<NamedStream | ParentStream> {
    yield { name: 'tree', chunking: { kind: 'cdc' }, data: listing() }
    // The listing is consumed to its end before this point: `files` is complete.
    const ahead = readAhead(files, async (entry) => readSmallFile(root, entry, noteChanged))
    for (const [k, { entry, reuse }] of files.entries()) {
      const name = fileStreamName(entry.path)
      const read = ahead(k)
      yield reuse
        ? { name, sameAsParent: true }
        : { name, chunking: { kind: 'cdc' }, data: read ? replay(await read) : readFile(root, entry, noteChanged) }
    }
  }

  return { position: { time }, tables, details, streams: streams() }
}

/** Small files read ahead of the one being stored: at most this many files, and this many bytes. */
const aheadFiles = 32
const aheadBytes = 8 * 1024 * 1024

/**
 * For file k, in order, the promise of its bytes when it is small enough to be read ahead (else
 * undefined), having started reading the small files that follow within the limits above. With
 * thousands of small files, waiting for each open, read and close in turn leaves the cores idle.
 */
export function readAhead(
  files: { entry: WalkedEntry; reuse: boolean }[],
  read: (entry: WalkedEntry) => Promise<Uint8Array[]>,
): (k: number) => Promise<Uint8Array[]> | undefined {
  const started = new Map<number, Promise<Uint8Array[]>>()
  let next = 0
  let bytes = 0
  return (k) => {
    const mine = started.get(k)
    if (mine) {
      started.delete(k)
      bytes -= files[k]!.entry.size
    }
    for (next = Math.max(next, k + 1); next < files.length && next - k <= aheadFiles; next++) {
      const { entry, reuse } = files[next]!
      if (reuse || entry.size > blockSize) continue
      if (bytes + entry.size > aheadBytes) break
      const reading = read(entry)
      // A failure is reported when the file's turn comes, not as an unhandled rejection.
      reading.catch(() => undefined)
      started.set(next, reading)
      bytes += entry.size
    }
    return mine
  }
}

async function* replay(parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* parts
}

// O_NOFOLLOW: a file replaced by a symlink since the walk is not followed out of the tree;
// O_NONBLOCK: one replaced by a FIFO does not hang the snapshot.
const openFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/** A regular file's bytes, up to the size the walk saw; changes while reading are noted, not hidden. */
async function* readFile(root: string, file: WalkedEntry, noteChanged: (path: string) => void) {
  const abs = join(root, file.path)
  let handle: FileHandle
  try {
    handle = await open(abs, openFlags)
  } catch (err) {
    if (!isGone(err) && (err as NodeJS.ErrnoException).code !== 'ELOOP') throw cannotRead(abs, err)
    noteChanged(file.path)
    return
  }
  try {
    const before = await handle.stat({ bigint: true })
    if (!before.isFile()) {
      noteChanged(file.path)
      return
    }
    let read = 0
    while (read < file.size) {
      const buf = Buffer.allocUnsafe(Math.min(blockSize, file.size - read))
      const { bytesRead } = await handle.read(buf, 0, buf.length, read)
      if (bytesRead === 0) break
      read += bytesRead
      yield buf.subarray(0, bytesRead)
    }
    if (!unchanged(file, read, await handle.stat({ bigint: true }))) noteChanged(file.path)
  } finally {
    await handle.close()
  }
}

/**
 * A small file's bytes as readFile gives them, read with blocking calls: five system calls of
 * microseconds each, where five round trips through libuv's thread pool cost more CPU in thread
 * hand-offs than the reading (a tree of 13,000 small files).
 */
function readSmallFile(root: string, file: WalkedEntry, noteChanged: (path: string) => void): Uint8Array[] {
  const abs = join(root, file.path)
  let fd: number
  try {
    fd = openSync(abs, openFlags)
  } catch (err) {
    if (!isGone(err) && (err as NodeJS.ErrnoException).code !== 'ELOOP') throw cannotRead(abs, err)
    noteChanged(file.path)
    return []
  }
  try {
    if (!fstatSync(fd).isFile()) {
      noteChanged(file.path)
      return []
    }
    const buf = Buffer.allocUnsafe(file.size)
    let read = 0
    while (read < file.size) {
      const bytesRead = readSync(fd, buf, read, file.size - read, read)
      if (bytesRead === 0) break
      read += bytesRead
    }
    if (!unchanged(file, read, fstatSync(fd, { bigint: true }))) noteChanged(file.path)
    return read > 0 ? [buf.subarray(0, read)] : []
  } finally {
    closeSync(fd)
  }
}

/** Whether the file is still the one the walk saw, read to the size it saw. */
function unchanged(file: WalkedEntry, read: number, after: BigIntStats): boolean {
  return (
    read === file.size &&
    after.size === BigInt(file.size) &&
    `${after.mtimeNs}` === file.mtimeNs &&
    after.ino === file.ino
  )
}
