import { closeSync, constants, fchmodSync, futimesSync, lstatSync, openSync, writeSync } from 'node:fs'
import { chmod, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DrkitError, IntegrityError, NotFoundError, PlanError } from '../../errors.js'
import type { RestoreOptions, RestoreResult, StoredImage } from '../source.js'
import { matchPathOrAncestor } from './pattern.js'
import { checkTarget, makeStaging, moveIntoPlace } from './target.js'
import { fileStreamName, maxChangedPaths, parseTree, type TreeEntry } from './tree.js'

/**
 * Restores a files snapshot into a new directory: whole, or only the entries matching
 * `opts.tables` (path patterns) with the directories that lead to them. The listing is
 * checked in full before anything is written (see `checkTree`); the tree is written into
 * a staging directory beside the target and moved into place at the end, so the target
 * never holds half a restore. Modes, mtimes (to the microsecond), symlinks (as links) and
 * empty directories are restored; owners are not.
 */
export async function restoreFiles(
  image: StoredImage,
  target: string,
  sourceRoot: string,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  if (opts.where !== undefined) throw new PlanError('--where does not apply to files: select paths with --paths')
  await checkTarget(target, sourceRoot, opts.force === true)
  const streams = image.streams[Symbol.asyncIterator]()
  const first = await streams.next()
  if (first.done || first.value.name !== 'tree') {
    throw new IntegrityError('the snapshot does not start with a tree listing: it is not a files snapshot')
  }
  const { header, entries } = await parseTree(first.value.data)
  const selected = select(entries, opts.tables)
  const tolerated = changedWhileRead(image.details)
  const staging = await makeStaging(target)
  const small = new Writes(smallWrites, true)
  const large = new Writes(largeWrites, false)
  let bytes = 0
  const counts = { files: 0, directories: 0, links: 0 }
  try {
    for (const entry of entries) {
      const path = join(staging, entry.path)
      if (entry.type === 'file') {
        const next = await streams.next()
        if (next.done || next.value.name !== fileStreamName(entry.path)) {
          throw new IntegrityError(`the snapshot has no content stream for ${entry.path} where its listing needs one`)
        }
        if (!selected.has(entry.path)) continue
        await checkParent(staging, path)
        const check = (written: number) => {
          if (written !== entry.size && !tolerated(entry.path)) {
            throw new IntegrityError(
              `${entry.path}: the snapshot holds ${written} bytes where its listing says ${entry.size}`,
            )
          }
          bytes += written
        }
        await (entry.size <= smallFile ? small : large).add(path, next.value.data, entry, check)
        counts.files++
      } else if (!selected.has(entry.path)) {
      } else if (entry.type === 'dir') {
        await checkParent(staging, path)
        // Owner-writable until the end, so that a read-only directory can still be filled.
        await mkdir(path, { mode: 0o700 })
        counts.directories++
      } else {
        await checkParent(staging, path)
        await symlink(entry.target!, path)
        await lutimes(path, seconds(entry.mtimeNs), seconds(entry.mtimeNs))
        counts.links++
      }
    }
    if (!(await streams.next()).done) throw new IntegrityError('the snapshot has more content streams than its listing')
    await small.drain()
    await large.drain()
    // Directories last, deepest first: writing into a directory changes its mtime.
    for (const entry of [...entries].reverse()) {
      if (entry.type !== 'dir' || !selected.has(entry.path)) continue
      await chmod(join(staging, entry.path), entry.mode)
      await utimes(join(staging, entry.path), seconds(entry.mtimeNs), seconds(entry.mtimeNs))
    }
    await chmod(staging, header.mode)
    await utimes(staging, seconds(header.mtimeNs), seconds(header.mtimeNs))
    await moveIntoPlace(staging, target)
  } catch (err) {
    await small.drain().catch(() => undefined)
    await large.drain().catch(() => undefined)
    await rm(staging, { recursive: true, force: true })
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new DrkitError(`the disk of ${dirname(target)} is full`, 'Free space, or restore elsewhere.', {
        cause: err,
      })
    }
    throw err
  }
  return { target, bytes, counts }
}

/** The paths to restore: those matching a pattern (or under a matching directory), and their parents. */
function select(entries: TreeEntry[], patterns: string[] | undefined): Set<string> {
  if (patterns === undefined) return new Set(entries.map((e) => e.path))
  const matches = matchPathOrAncestor(patterns)
  const selected = new Set<string>()
  for (const e of entries) {
    if (!matches(e.path)) continue
    for (let at = e.path.length; at > 0; at = e.path.lastIndexOf('/', at - 1)) selected.add(e.path.slice(0, at))
  }
  if (selected.size === 0) {
    throw new NotFoundError(
      `no path in the snapshot matches ${patterns.join(', ')}`,
      'Patterns are relative to the tree root: *.txt matches at any depth, docs/** everything under docs.',
    )
  }
  return selected
}

/** Files the snapshot says changed while they were read: their size may differ from the listing's. */
function changedWhileRead(details: StoredImage['details']): (path: string) => boolean {
  const count = Number(details.changedFiles ?? 0)
  if (count > maxChangedPaths) return () => true
  const paths = new Set<string>(count > 0 ? (JSON.parse(String(details.changedPaths)) as string[]) : [])
  return (path) => paths.has(path)
}

/** Defence in depth behind checkTree: the parent must be a real directory, never a symlink. */
async function checkParent(staging: string, path: string): Promise<void> {
  const parent = dirname(path)
  if (parent === staging) return
  // Blocking: a call of microseconds, where a round trip through libuv's thread pool cost more.
  const st = lstatSync(parent)
  if (!st.isDirectory()) throw new IntegrityError(`refusing to write ${path}: its parent is not a directory`)
}

/** Files up to this size are read whole from the repository, then written; larger ones are streamed. */
const smallFile = 1024 * 1024
/** Small files, and large ones, being read and written at once (a large one holds up to 32 MiB of read-ahead). */
const smallWrites = 16
const largeWrites = 2

async function collect(data: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = []
  for await (const part of data) parts.push(part)
  return parts
}

/**
 * Reads files from the repository and writes them, several at once, while the loop goes on
 * to the next entries: the round trips of reading each file's chunks, and of opening,
 * writing, chmod, utimes and closing it, overlap instead of adding up. A failure is reported
 * by the next `add` or by `drain`.
 */
class Writes {
  private readonly inFlight = new Set<Promise<void>>()
  private failure: { error: unknown } | undefined

  constructor(
    private readonly limit: number,
    /** Read a file whole before writing it (small files), or stream it. */
    private readonly whole: boolean,
  ) {}

  /** Starts reading data and writing it to path once a slot is free; `check` is told the bytes written. */
  async add(path: string, data: AsyncIterable<Uint8Array>, entry: TreeEntry, check: (n: number) => void) {
    while (this.inFlight.size >= this.limit) await Promise.race(this.inFlight)
    this.throwIfFailed()
    const write = (async () => {
      if (!this.whole) return check(await writeFile(path, data, entry))
      const parts = await collect(data)
      check(parts.reduce((n, p) => n + p.length, 0))
      writeSmallFile(path, parts, entry)
    })().then(
      () => {
        this.inFlight.delete(write)
      },
      (error: unknown) => {
        this.inFlight.delete(write)
        this.failure ??= { error }
      },
    )
    this.inFlight.add(write)
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight)
    this.throwIfFailed()
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error
  }
}

// O_EXCL and O_NOFOLLOW: never write through or over anything already there.
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/**
 * A small file, already read, written at once with blocking calls: its five system calls take
 * microseconds, where five round trips through libuv's thread pool cost more than the writing
 * (thread hand-offs: a tree of 13,000 small files restored in much more CPU).
 */
function writeSmallFile(path: string, parts: Uint8Array[], entry: TreeEntry): void {
  const fd = openSync(path, createFlags, 0o600)
  try {
    for (const part of parts) {
      for (let done = 0; done < part.length; ) done += writeSync(fd, part, done, part.length - done)
    }
    fchmodSync(fd, entry.mode)
    futimesSync(fd, seconds(entry.mtimeNs), seconds(entry.mtimeNs))
  } finally {
    closeSync(fd)
  }
}

async function writeFile(path: string, data: AsyncIterable<Uint8Array>, entry: TreeEntry): Promise<number> {
  const handle = await open(path, createFlags, 0o600)
  let written = 0
  try {
    for await (const part of data) {
      await handle.write(part)
      written += part.length
    }
    await handle.chmod(entry.mode)
    await handle.utimes(seconds(entry.mtimeNs), seconds(entry.mtimeNs))
  } finally {
    await handle.close()
  }
  return written
}

/** Nanoseconds as the seconds Node's utimes takes (a double: exact to about a microsecond). */
function seconds(ns: string): number {
  const n = BigInt(ns)
  return Number(n / 1_000_000_000n) + Number(n % 1_000_000_000n) / 1e9
}
