import { IntegrityError } from '../errors.js'
import { idOfKey, keys } from './format.js'
import { sha256 } from './hash.js'
import type { Repository, Snapshot } from './index.js'
import { shortId } from './manifest.js'
import { entrySize } from './pack.js'
import { decodeIndexFile, PackIndex } from './pack-index.js'
import { type BlobTable, indexed, isList, referenced } from './prune-table.js'
import { BlobReader } from './reader.js'

/** Chunk lists read at once while marking: up to 64 lists of 128 KiB. */
const listsPerRead = 64

/** A frame at least this much in use is copied as stored by a repack; below it, its used blobs are recompressed. */
export const copyFrameAbove = 0.5

/** What one indexed pack holds, by plaintext bytes, and which index files list it. */
export interface PackUsage {
  id: string
  indexes: Set<string>
  blobs: number
  usedBlobs: number
  rawBytes: number
  usedRawBytes: number
  /** Unused plaintext bytes a repack would free: those of frames less than `copyFrameAbove` in use. */
  reclaimable: number
}

const damaged = (what: string) =>
  new IntegrityError(
    `${what} is in no index: the repository is damaged`,
    'Nothing was deleted. Run `drkit verify` to see what is affected.',
  )

/**
 * Adds every blob the snapshots reference to `table`: their chunk lists, then the chunks
 * the lists name (read from the packs, a batch at a time, through an index of the lists
 * alone). A chunk list that no index file lists is damage (IntegrityError): deleting
 * anything then could only make it worse.
 */
export async function markSnapshots(
  repository: Repository,
  snapshots: AsyncIterable<Snapshot>,
  indexKeys: Iterable<string>,
  table: BlobTable,
): Promise<void> {
  const contexts = new Map<string, string>()
  for await (const snapshot of snapshots) {
    for (const ref of snapshot.streams) {
      for (const id of ref.lists) {
        if (!table.add(Buffer.from(id, 'hex'), 0, referenced | isList))
          contexts.set(id, `snapshot ${shortId(snapshot.id)} of ${snapshot.resource}`)
      }
    }
  }
  if (contexts.size === 0) return
  const lists = await indexOfLists(repository, indexKeys, table)
  for (const [id, context] of contexts) if (!lists.has(id)) throw damaged(`a chunk list of ${context}`)
  const reader = new BlobReader(repository.backend, lists, repository.codec)
  const ids = [...contexts.keys()]
  for (let i = 0; i < ids.length; i += listsPerRead) {
    const batch = ids.slice(i, i + listsPerRead)
    for (const bytes of (await reader.loadMany(batch, contexts.get(batch[0]!)!)).values()) {
      const list = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      for (let at = 0; at + 32 <= list.length; at += 32) table.add(list, at, referenced)
    }
  }
}

/** A PackIndex of the chunk lists in `table` alone, from the index files: small, for reading them. */
async function indexOfLists(repository: Repository, indexKeys: Iterable<string>, table: BlobTable): Promise<PackIndex> {
  const lists = new PackIndex()
  for (const key of indexKeys) {
    const records: Buffer[] = []
    forEachRecord(await readIndexPlain(repository, key), (packId, buf, start, count) => {
      const entries: Buffer[] = []
      for (let i = 0, at = start; i < count; i++, at += entrySize) {
        if ((table.get(buf, at) & isList) !== 0) entries.push(buf.subarray(at, at + entrySize))
      }
      if (entries.length === 0) return
      const head = Buffer.alloc(36)
      head.write(packId, 0, 32, 'hex')
      head.writeUInt32BE(entries.length, 32)
      records.push(head, ...entries)
    })
    if (records.length > 0) lists.addRecords(Buffer.concat(records), idOfKey(key).slice(0, 12))
  }
  return lists
}

/**
 * Reads every index file again, one at a time, and adds up what each pack holds and what
 * of it is in use, and what a repack would free. Every blob the snapshots reference is
 * then known to be indexed, or the repository is damaged (IntegrityError).
 */
export async function packUsage(
  repository: Repository,
  indexKeys: Iterable<string>,
  table: BlobTable,
): Promise<Map<string, PackUsage>> {
  const packs = new Map<string, PackUsage>()
  for (const key of indexKeys) {
    forEachRecord(await readIndexPlain(repository, key), (packId, buf, start, count) => {
      const known = packs.get(packId)
      if (known) {
        // Listed again by another index file (a rewrite interrupted before deleting the old one).
        known.indexes.add(key)
        return
      }
      const pack: PackUsage = {
        id: packId,
        indexes: new Set([key]),
        blobs: count,
        usedBlobs: 0,
        rawBytes: 0,
        usedRawBytes: 0,
        reclaimable: 0,
      }
      packs.set(packId, pack)
      const frames = new Map<number, { raw: number; used: number }>()
      for (let i = 0, at = start; i < count; i++, at += entrySize) {
        const raw = buf.readUInt32BE(at + 44)
        const offset = buf.readUInt32BE(at + 32)
        let frame = frames.get(offset)
        if (!frame) {
          frame = { raw: 0, used: 0 }
          frames.set(offset, frame)
        }
        frame.raw += raw
        pack.rawBytes += raw
        if ((table.get(buf, at) & referenced) === 0) continue
        table.flag(buf, at, indexed)
        frame.used += raw
        pack.usedBlobs++
        pack.usedRawBytes += raw
      }
      for (const f of frames.values()) if (f.used < f.raw * copyFrameAbove) pack.reclaimable += f.raw - f.used
    })
  }
  const missing = table.countWithout(indexed)
  if (missing > 0) throw damaged(`${missing === 1 ? 'a chunk' : `${missing} chunks`} that snapshots reference`)
  return packs
}

/**
 * Which packs go: every pack with nothing in use, and, as restic's `--max-unused`, the
 * packs that free the most for what they keep are repacked until what could still be
 * freed is at most `maxUnused` of the repository (a share, 0 to 1). Pure.
 */
export function choosePacks(
  usage: Iterable<PackUsage>,
  maxUnused: number,
): { drop: Set<string>; move: Set<string>; unusedAfter: number } {
  const drop = new Set<string>()
  const candidates: PackUsage[] = []
  let used = 0
  let reclaimable = 0
  let unused = 0
  for (const pack of usage) {
    if (pack.usedBlobs === 0) {
      drop.add(pack.id)
      continue
    }
    used += pack.usedRawBytes
    unused += pack.rawBytes - pack.usedRawBytes
    if (pack.reclaimable === 0) continue
    reclaimable += pack.reclaimable
    candidates.push(pack)
  }
  // restic's measure: unused space of at most p of the repository is p / (1 - p) of what is used.
  const budget = maxUnused >= 1 ? Number.POSITIVE_INFINITY : (maxUnused / (1 - maxUnused)) * used
  candidates.sort((a, b) => b.reclaimable / b.usedRawBytes - a.reclaimable / a.usedRawBytes)
  const move = new Set<string>()
  for (const pack of candidates) {
    if (reclaimable <= budget) break
    move.add(pack.id)
    reclaimable -= pack.reclaimable
    unused -= pack.reclaimable
  }
  return { drop, move, unusedAfter: unused }
}

/** Calls fn for each pack record of an index file's plaintext: entries from `start`, 48 bytes each. */
export function forEachRecord(
  buf: Buffer,
  fn: (packId: string, buf: Buffer, start: number, count: number) => void,
): void {
  for (let pos = 0; pos < buf.length; ) {
    const count = pos + 36 <= buf.length ? buf.readUInt32BE(pos + 32) : 0
    if (pos + 36 + count * entrySize > buf.length) {
      throw new IntegrityError('an index file is truncated', 'Nothing was deleted. Run `drkit verify`.')
    }
    fn(buf.toString('hex', pos, pos + 32), buf, pos + 36, count)
    pos += 36 + count * entrySize
  }
}

/** An index file's plaintext, checked against its name. */
export async function readIndexPlain(repository: Repository, key: string): Promise<Buffer> {
  const bytes = await repository.backend.get(key)
  const name = idOfKey(key)
  const hint = 'Nothing was deleted: its packs would look unused. Run `drkit verify` to see what is affected.'
  if (sha256(bytes) !== name) throw new IntegrityError(`index ${name.slice(0, 12)} does not match its hash`, hint)
  try {
    const plain = decodeIndexFile(bytes, name.slice(0, 12), repository.codec)
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
  } catch (err) {
    if (err instanceof IntegrityError) throw new IntegrityError(err.message, hint, { cause: err })
    throw err
  }
}

/** The index file keys on the backend now. */
export async function listIndexKeys(repository: Repository): Promise<Set<string>> {
  const found = new Set<string>()
  for await (const { key } of repository.backend.list(keys.indexPrefix)) found.add(key)
  return found
}
