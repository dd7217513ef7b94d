import type { Backend } from './backends/backend.js'
import { keys } from './format.js'
import { FramePool } from './frame-pool.js'
import { sha256 } from './hash.js'
import { PackBuilder } from './pack.js'
import { encodeIndexFile, encodeIndexRecord, type PackIndex } from './pack-index.js'
import { isList, used } from './prune-plan.js'
import type { BlobReader } from './reader.js'

const framesInFlight = 16

export interface RepackResult {
  /** The index file that lists the new packs, when any were written. */
  indexKey?: string
  packs: string[]
  blobs: number
  storedBytes: number
}

/**
 * Copies the blobs in use out of packs that are mostly garbage into new packs, one pack
 * at a time (memory stays at about one pack), then writes one index file for the new
 * packs. Only additions: the old packs and index files are removed later, by the commit
 * phase, after this index is stored, so a crash at any moment loses no referenced blob.
 */
export async function repack(
  backend: Backend,
  reader: BlobReader,
  index: PackIndex,
  marks: Uint8Array,
  packs: Iterable<string>,
  packSize: number,
): Promise<RepackResult> {
  const builder = new PackBuilder((plain, handOver) => FramePool.shared().seal(plain, handOver))
  const result: RepackResult = { packs: [], blobs: 0, storedBytes: 0 }
  const records: Buffer[] = []
  const upload = async () => {
    if (builder.count === 0) return
    const { id, bytes, entries } = await builder.finish()
    await backend.put(keys.pack(id), bytes)
    records.push(encodeIndexRecord({ id, entries }))
    result.packs.push(id)
    result.storedBytes += bytes.length
  }
  const wanted = new Set(packs)
  const byPack = new Map<string, { id: string; slot: number }[]>()
  for (const [key, slot] of index.slotEntries()) {
    if (slot >= marks.length || (marks[slot]! & used) === 0) continue
    const packId = index.packOfSlot(slot)
    if (!wanted.has(packId)) continue
    const list = byPack.get(packId) ?? []
    if (list.length === 0) byPack.set(packId, list)
    list.push({ id: Buffer.from(key, 'latin1').toString('hex'), slot })
  }
  for (const [packId, blobs] of byPack) {
    const loaded = await reader.loadMany(
      blobs.map((b) => b.id),
      `pack ${packId.slice(0, 12)} (repacking)`,
    )
    for (const { id, slot } of blobs) {
      builder.add(id, loaded.get(id)!, { alone: (marks[slot]! & isList) !== 0 })
      result.blobs++
      await builder.settle(framesInFlight)
      if (builder.size >= packSize) await upload()
    }
  }
  await upload()
  if (records.length === 0) return result
  const bytes = encodeIndexFile(records)
  result.indexKey = keys.index(sha256(bytes))
  await backend.put(result.indexKey, bytes, { ifAbsent: true })
  return result
}
