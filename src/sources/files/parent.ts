import type { ParentImage } from '../source.js'
import { fileStreamName, maxChangedPaths, parseTree, type TreeEntry } from './tree.js'
import type { WalkedEntry } from './walk.js'

/** Tells whether a walked file is unchanged since the parent snapshot, whose stored content can then be reused. */
export type UnchangedSince = (file: WalkedEntry) => boolean

/**
 * What the parent snapshot lets a new one skip, as restic does: a regular file whose size,
 * mtime, ctime and inode number are all what the parent's listing recorded is taken as
 * unchanged, and its stored content stream is referenced without reading the file. Nothing
 * is trusted of a file the parent reported as changed while it was read, nor of any file
 * when the parent reported too many to name them, nor of listings without ctime and inode.
 * The parent's listing is held in memory as one short string per file.
 */
export async function unchangedSince(parent: ParentImage | undefined): Promise<UnchangedSince> {
  if (!parent?.has('tree')) return () => false
  const changedCount = Number(parent.details.changedFiles ?? 0)
  if (changedCount > maxChangedPaths) return () => false
  const changed = new Set<string>(changedCount > 0 ? (JSON.parse(String(parent.details.changedPaths)) as string[]) : [])
  const known = new Map<string, string>()
  for (const entry of (await parseTree(parent.read('tree'))).entries) {
    const seen = signature(entry)
    if (entry.type === 'file' && seen !== undefined && !changed.has(entry.path)) known.set(entry.path, seen)
  }
  return (file) => {
    const seen = known.get(file.path)
    return seen !== undefined && seen === signature(file) && parent.has(fileStreamName(file.path))
  }
}

function signature(e: TreeEntry | WalkedEntry): string | undefined {
  if (e.ctimeNs === undefined || e.ino === undefined) return undefined
  return `${e.size}/${e.mtimeNs}/${e.ctimeNs}/${e.ino}`
}
