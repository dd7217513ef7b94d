import { lstat, readdir, readlink } from 'node:fs/promises'
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
  // The entries of a directory are looked up a few dozen at a time, in parallel: one lstat
  // after another would leave the disk and the thread pool mostly idle on large trees.
  for (let from = 0; from < names.length; from += statsAtOnce) {
    const paths = names
      .slice(from, from + statsAtOnce)
      .map((name) => (dir === '' ? name : `${dir}/${name}`))
      .filter((path) => !excluded(path))
    const looked = await Promise.all(paths.map((path) => lookUp(join(root, path))))
    for (const [i, path] of paths.entries()) {
      const found = looked[i]!
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
}

const statsAtOnce = 64

/** An entry's status (and a symlink's target), or 'gone' when it vanished since its directory was read. */
async function lookUp(abs: string) {
  try {
    const st = await lstatNs(abs)
    const target = st.isSymbolicLink() ? await readlink(abs) : undefined
    return { st, target }
  } catch (err) {
    if (!isGone(err)) throw cannotRead(abs, err)
    return 'gone' as const
  }
}

export function lstatNs(path: string) {
  return lstat(path, { bigint: true })
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
