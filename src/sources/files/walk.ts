import { lstatSync, readlinkSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DrkitError } from '../../errors.js'
import type { PathMatcher } from './pattern.js'
import type { TreeEntry } from './tree.js'

/** A walked entry: the listing's fields, plus what tells a file that changed while it was read. */
export interface WalkedEntry extends Omit<TreeEntry, 'ino' | 'ctimeNs'> {
  ino: bigint
  /** Status change time in nanoseconds since the epoch, as a decimal string. */
  ctimeNs: string
}

export interface WalkReport {
  /** Entries that vanished between listing their directory and reading them. */
  vanished: string[]
  /** Sockets, FIFOs and devices: not stored. */
  skipped: string[]
}

/**
 * The tree under root, depth first, a directory before its contents, names sorted (by
 * UTF-16 code units) so that the same tree always lists the same way. Symlinks are listed,
 * never followed. Excluded paths, and everything under an excluded directory, are left out.
 */
export async function* walkTree(
  root: string,
  excluded: PathMatcher,
  report: WalkReport,
  dir = '',
): AsyncGenerator<WalkedEntry> {
  let names: string[]
  try {
    names = (await readdir(join(root, dir))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  } catch (err) {
    if (dir !== '' && isGone(err)) {
      report.vanished.push(dir)
      return
    }
    throw cannotRead(join(root, dir), err)
  }
  for (const name of names) {
    const path = dir === '' ? name : `${dir}/${name}`
    if (excluded(path)) continue
    const found = lookUp(join(root, path))
    if (found === 'gone') {
      report.vanished.push(path)
      continue
    }
    const { st, target } = found
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : undefined
    if (!type) {
      report.skipped.push(path)
      continue
    }
    const mode = Number(st.mode & 0o7777n)
    const size = type === 'file' ? Number(st.size) : 0
    const times = { mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString() }
    yield { path, type, mode, ...times, size, ino: st.ino, ...(target ? { target } : {}) }
    if (type === 'dir') yield* walkTree(root, excluded, report, path)
  }
}

/**
 * An entry's status (and a symlink's target), or 'gone' when it vanished since its directory
 * was read. Synchronous on purpose: an lstat takes microseconds, and a promise per entry cost
 * several times that on trees of many small files, where the walk is most of an incremental
 * snapshot's work.
 */
function lookUp(abs: string) {
  try {
    const st = lstatSync(abs, { bigint: true })
    const target = st.isSymbolicLink() ? readlinkSync(abs) : undefined
    return { st, target }
  } catch (err) {
    if (!isGone(err)) throw cannotRead(abs, err)
    return 'gone' as const
  }
}

export function isGone(err: unknown): boolean {
  return ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')
}

export function cannotRead(path: string, cause: unknown): DrkitError {
  const code = (cause as NodeJS.ErrnoException).code
  return new DrkitError(
    `cannot read ${path}${code ? ` (${code})` : ''}`,
    code === 'EACCES' ? 'Run drkit as a user that can read the whole tree, or exclude this path.' : undefined,
    { cause },
  )
}
