import { RefusedError } from '../errors.js'
import { keys } from './format.js'
import { sha256 } from './hash.js'
import type { Repository, Snapshot } from './index.js'
import type { LockOptions } from './lock.js'
import { entrySize } from './pack.js'
import { encodeIndexFile, indexedPackIds } from './pack-index.js'
import {
  choosePacks,
  forEachRecord,
  listIndexKeys,
  markSnapshots,
  type PackUsage,
  packUsage,
  readIndexPlain,
} from './prune-plan.js'
import { BlobTable } from './prune-table.js'
import { repack } from './repack.js'

export interface PruneRequest {
  /** Snapshot manifest keys to delete (decided by the caller: forget). */
  snapshots: string[]
  /** Segment keys to delete. */
  segments: string[]
  /** Decide and report, delete and write nothing. */
  dryRun?: boolean
  /**
   * The share of the repository (0 to 1; default 0.05) that may stay unused: the packs that
   * free the most for what they keep are repacked until what could still be freed is at most
   * this (restic's `--max-unused`). 0 repacks every pack a repack would shrink.
   */
  maxUnused?: number
  /** For the lock of the delete phase: how long to wait for backups and restores to finish. */
  lock?: LockOptions
}

export interface PruneResult {
  dryRun: boolean
  snapshotsDeleted: number
  segmentsDeleted: number
  packs: { before: number; deleted: number; repacked: number; leftovers: number; written: number }
  blobs: { before: number; used: number; repacked: number }
  /**
   * Stored bytes of the packs removed and of the packs repacking wrote; plaintext bytes of
   * the blobs that stay unused (in packs not worth repacking, and in frames copied whole).
   */
  bytes: { removed: number; written: number; unusedAfter: number }
  indexes: { rewritten: number; deleted: number }
}

/**
 * Deletes the given snapshots and segments, then every pack no snapshot needs, safely
 * while backups and agents run. Two phases:
 *
 * 1. Without a lock: load the index, mark every blob the remaining snapshots reference
 *    (one byte per blob), add up each pack's use, and copy the used blobs of packs that
 *    are mostly garbage into new packs and a new index file (additions only).
 * 2. Under the `prune` lock, which waits for backups and restores in flight and keeps new
 *    ones out (capture shippers go on): check that no index file read in phase 1 has gone
 *    (else another prune ran, and nothing is deleted); delete the forgotten snapshots and
 *    segments; mark the snapshots committed since phase 1 and keep every pack they use;
 *    keep every pack an index file written since lists; write each index file that names
 *    a removed pack again without it, then delete the old file; then delete the packs.
 *
 * Packs that no index lists (left by a crashed backup) are deleted only when they were
 * there before phase 1 and are still unlisted under the lock. Every step adds before it
 * removes, so a crash at any point leaves at most garbage, which the next prune removes.
 */
export async function prune(repository: Repository, req: PruneRequest): Promise<PruneResult> {
  const onDisk = new Map<string, number>()
  for await (const { key, size } of repository.backend.list(keys.packPrefix)) onDisk.set(key, size)
  const loaded = await listIndexKeys(repository)
  const forgotten = new Set(req.snapshots)
  const seen = new Set<string>()
  const table = new BlobTable()
  await markSnapshots(repository, snapshotsExcept(repository, forgotten, seen), loaded, table)
  const usage = await packUsage(repository, loaded, table)
  const present = new Map([...usage.values()].filter((p) => onDisk.has(keys.pack(p.id))).map((p) => [p.id, p]))
  const { drop, move, unusedAfter } = choosePacks(present.values(), req.maxUnused ?? 0.05)
  const leftovers = new Set([...onDisk.keys()].map(packOfKey).filter((id) => !usage.has(id)))
  const result: PruneResult = {
    dryRun: req.dryRun === true,
    snapshotsDeleted: req.snapshots.length,
    segmentsDeleted: req.segments.length,
    packs: { before: onDisk.size, deleted: drop.size, repacked: move.size, leftovers: leftovers.size, written: 0 },
    blobs: { before: sum(usage.values(), (p) => p.blobs), used: table.size, repacked: 0 },
    bytes: { removed: 0, written: 0, unusedAfter },
    indexes: { rewritten: 0, deleted: 0 },
  }
  if (req.dryRun) {
    result.bytes.removed = sizeOf([...drop, ...move, ...leftovers], onDisk)
    return result
  }

  const copied = await repack(repository, table, move, loaded, onDisk)
  // A new pack can have the very id of one already there (an interrupted prune repacked the
  // same blobs before): it now holds the copies, so it is never removed.
  for (const id of copied.packs) {
    drop.delete(id)
    move.delete(id)
    leftovers.delete(id)
  }
  result.packs.written = copied.packs.length
  result.blobs.repacked = copied.blobs
  result.bytes.written = copied.storedBytes

  const lock = await repository.lock('*', 'prune', { command: 'forget', waitMs: 10 * 60_000, ...req.lock })
  try {
    const now = await listIndexKeys(repository)
    if ([...loaded, ...copied.indexKeys].some((key) => !now.has(key))) {
      throw new RefusedError(
        'the repository changed while forget ran: another prune rewrote index files',
        'Nothing was deleted; run `drkit forget` again.',
      )
    }
    // Forgotten snapshots go first: from here on their data is garbage, never the reverse.
    for (const key of req.snapshots) await repository.backend.delete(key)
    for (const key of req.segments) await repository.backend.delete(key)

    // Snapshots committed since phase 1 keep every pack that holds a blob they use.
    const since = new BlobTable()
    await markSnapshots(
      repository,
      snapshotsExcept(repository, new Set([...forgotten, ...seen]), new Set()),
      now,
      since,
    )
    if (since.size > 0) {
      for (const id of await packsHolding(repository, loaded, since, new Set([...drop, ...move]))) {
        drop.delete(id)
        move.delete(id)
      }
    }
    // Packs listed by index files written since phase 1 are another session's: never leftovers.
    for (const key of now) {
      if (loaded.has(key)) continue
      for (const id of indexedPackIds(await readIndexPlain(repository, key))) leftovers.delete(id)
    }

    const removed = new Set([...drop, ...move, ...leftovers])
    await rewriteIndexes(repository, usage, removed, result)
    for (const id of removed) await repository.backend.delete(keys.pack(id))
    result.packs.deleted = drop.size
    result.packs.repacked = move.size
    result.packs.leftovers = leftovers.size
    result.bytes.removed = sizeOf(removed, onDisk)
    return result
  } finally {
    await lock.release().catch(() => undefined)
  }
}

/** Which of `candidates` hold a blob in `table`, from the index files. */
async function packsHolding(
  repository: Repository,
  indexKeys: Iterable<string>,
  table: BlobTable,
  candidates: Set<string>,
): Promise<Set<string>> {
  const found = new Set<string>()
  for (const key of indexKeys) {
    forEachRecord(await readIndexPlain(repository, key), (packId, buf, start, count) => {
      if (!candidates.has(packId) || found.has(packId)) return
      for (let i = 0, at = start; i < count; i++, at += entrySize) {
        if (table.get(buf, at) === 0) continue
        found.add(packId)
        return
      }
    })
  }
  return found
}

/** Writes each index file naming a removed pack again without it (if anything is left), then deletes the old one. */
async function rewriteIndexes(
  repository: Repository,
  usage: Map<string, PackUsage>,
  removed: Set<string>,
  result: PruneResult,
): Promise<void> {
  const affected = new Set([...removed].flatMap((id) => [...(usage.get(id)?.indexes ?? [])]))
  for (const key of affected) {
    const buf = await readIndexPlain(repository, key)
    const records: Buffer[] = []
    for (let pos = 0; pos + 36 <= buf.length; ) {
      const end = pos + 36 + buf.readUInt32BE(pos + 32) * entrySize
      if (!removed.has(buf.toString('hex', pos, pos + 32))) records.push(buf.subarray(pos, end))
      pos = end
    }
    if (records.length > 0) {
      const bytes = encodeIndexFile(records, repository.codec)
      await repository.backend.put(keys.index(sha256(bytes)), bytes, { ifAbsent: true })
      result.indexes.rewritten++
    }
    await repository.backend.delete(key)
    result.indexes.deleted++
  }
}

/** Every snapshot of the repository whose key is not in `except`, read one at a time; each key read is added to `seen`. */
async function* snapshotsExcept(
  repository: Repository,
  except: Set<string>,
  seen: Set<string>,
): AsyncIterable<Snapshot> {
  const keysNow: string[] = []
  for await (const { key } of repository.backend.list(keys.snapshotPrefix())) if (!except.has(key)) keysNow.push(key)
  for (const key of keysNow) {
    seen.add(key)
    yield await repository.readSnapshotKey(key)
  }
}

function packOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

function sum<T>(items: Iterable<T>, of: (item: T) => number): number {
  let total = 0
  for (const item of items) total += of(item)
  return total
}

function sizeOf(ids: Iterable<string>, onDisk: Map<string, number>): number {
  let total = 0
  for (const id of ids) total += onDisk.get(keys.pack(id)) ?? 0
  return total
}
