/**
 * The tree listing: the first stream of a files snapshot. JSON lines, UTF-8: a header
 * `{"drkitTree":1,"mode":…,"mtimeNs":"…"}` (the root directory itself), then one entry per
 * line in walk order (a directory before its contents, names sorted). The content of each
 * regular file follows as its own stream, in the same order.
 *
 * A restore parses the whole listing and checks every path before it writes anything, so
 * that no listing, however crafted, can make it write outside its target (`checkTree`).
 */
import { IntegrityError } from '../../errors.js'

/** At most this many changed paths are named in a snapshot's details; the count is always exact. */
export const maxChangedPaths = 100

export type EntryType = 'file' | 'dir' | 'symlink'

export interface TreeEntry {
  /** Relative to the root, `/`-separated, never absolute and without `.` or `..` segments. */
  path: string
  type: EntryType
  /** Permission bits (with setuid, setgid and sticky): `mode & 0o7777`. */
  mode: number
  /** Modification time in nanoseconds since the epoch, as a decimal string (beyond 2^53). */
  mtimeNs: string
  /** Bytes of a regular file as of the walk; 0 for the others. */
  size: number
  /** A symlink's target, exactly as stored (it may point anywhere: it is never followed). */
  target?: string
  /**
   * A regular file's status change time (ns, decimal) and inode number (decimal) as of the
   * walk: with size and mtime, what tells the next snapshot the file has not changed. Restores
   * ignore them; listings written before they existed lack them.
   */
  ctimeNs?: string
  ino?: string
}

export interface TreeHeader {
  drkitTree: 1
  mode: number
  mtimeNs: string
}

/** The stream name of a regular file's content. */
export function fileStreamName(path: string): string {
  return `file:${path}`
}

export function formatTreeLine(item: TreeHeader | TreeEntry): string {
  return `${JSON.stringify(item)}\n`
}

/** Reads and checks a whole listing; IntegrityError names the first bad line. */
export async function parseTree(
  data: AsyncIterable<Uint8Array>,
): Promise<{ header: TreeHeader; entries: TreeEntry[] }> {
  const lines: string[] = []
  let rest: Buffer = Buffer.alloc(0)
  for await (const part of data) {
    // Split on bytes, not characters: a multi-byte name may straddle two buffers.
    let buf = rest.length > 0 ? Buffer.concat([rest, part]) : Buffer.from(part)
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      lines.push(buf.subarray(0, nl).toString('utf8'))
      buf = buf.subarray(nl + 1)
    }
    rest = Buffer.from(buf)
  }
  if (rest.length > 0) throw new IntegrityError('the tree listing of the snapshot ends in the middle of a line')
  const [first, ...others] = lines.map((line, i) => parseLine(line, i + 1))
  const header = first as TreeHeader | undefined
  if (header?.drkitTree !== 1 || !Number.isInteger(header.mode) || !/^\d+$/.test(String(header.mtimeNs))) {
    throw new IntegrityError('the tree listing of the snapshot has no valid header (line 1)')
  }
  const entries = others as TreeEntry[]
  checkTree(entries)
  return { header, entries }
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line)
  } catch (cause) {
    throw new IntegrityError(`the tree listing of the snapshot is not valid JSON at line ${n}`, undefined, { cause })
  }
}

/**
 * Every entry well formed, every path relative and clean, no path twice, and every
 * entry's parent a directory listed before it. The last rule is what keeps a restore
 * inside its target: nothing is ever written below a symlink or a file.
 */
export function checkTree(entries: readonly TreeEntry[]): void {
  const dirs = new Set<string>([''])
  const seen = new Set<string>()
  entries.forEach((e, i) => {
    const bad = (why: string): never => {
      throw new IntegrityError(
        `the tree listing of the snapshot is unsafe or damaged at entry ${i + 1} (${JSON.stringify(e?.path)}): ${why}`,
        'Nothing was written. The snapshot cannot be restored as it is; restore another snapshot.',
      )
    }
    if (typeof e !== 'object' || e === null) bad('not an entry')
    if (typeof e.path !== 'string' || e.path === '' || e.path.includes('\0')) bad('no path')
    if (e.path.startsWith('/')) bad('absolute path')
    if (e.path.split('/').some((s) => s === '' || s === '.' || s === '..')) bad('a "..", "." or empty segment')
    if (!['file', 'dir', 'symlink'].includes(e.type)) bad(`unknown type ${JSON.stringify(e.type)}`)
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) bad('bad mode')
    if (typeof e.mtimeNs !== 'string' || !/^\d+$/.test(e.mtimeNs)) bad('bad mtime')
    if (!Number.isSafeInteger(e.size) || e.size < 0) bad('bad size')
    if (e.type === 'symlink' && (typeof e.target !== 'string' || e.target === '' || e.target.includes('\0'))) {
      bad('a symlink without a target')
    }
    if (seen.has(e.path)) bad('listed twice')
    seen.add(e.path)
    const slash = e.path.lastIndexOf('/')
    if (!dirs.has(slash < 0 ? '' : e.path.slice(0, slash))) bad('its parent is not a directory listed before it')
    if (e.type === 'dir') dirs.add(e.path)
  })
}
