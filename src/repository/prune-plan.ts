import { IntegrityError } from '../errors.js'
import { idOfKey, keys } from './format.js'
import { sha256 } from './hash.js'
import type { Repository, Snapshot } from './index.js'
import { shortId } from './manifest.js'
import { entrySize } from './pack.js'
import { decodeIndexFile, type PackIndex } from './pack-index.js'
import type { BlobReader } from './reader.js'

/** Per blob slot of the PackIndex: one byte of flags, so millions of blobs cost megabytes. */
export const used = 1
export const isList = 2

/** Chunk lists read at once while marking: up to 64 lists of 128 KiB. */
const listsPerRead = 64

/** What one indexed pack holds, by plaintext bytes, and which index files list it. */
export interface PackUsage {
  id: string
  indexes: Set<string>
  blobs: number
  usedBlobs: number
  rawBytes: number
  usedRawBytes: number
}

/**
 * Marks every blob the snapshots reference (chunk lists and the chunks they list) in
 * `marks`, indexed by the blob's slot in `index`. Returns the slots newly marked. A chunk
 * list already marked is not read again: its chunks are marked. A referenced blob that is
 * not in the index stops the prune (IntegrityError): deleting anything then could only
 * make it worse.
 */
export async function markSnapshots(
  snapshots: AsyncIterable<Snapshot> | Iterable<Snapshot>,
  index: PackIndex,
  reader: BlobReader,
  marks: Uint8Array,
  opts: { strict: boolean },
): Promise<number[]> {
  const fresh: number[] = []
  const mark = (key: string, flag: number, what: string): boolean => {
    const slot = index.slotOfKey(key)
    // Not strict (the commit phase): blobs indexed after the marks were sized live in packs
    // this prune never deletes; they are only looked through.
    if (!opts.strict && slot !== undefined && slot >= marks.length) return false
    if (slot === undefined || slot >= marks.length) {
      throw new IntegrityError(
        `${what} is in no index: the repository is damaged`,
        'Nothing was deleted. Run `drkit verify` to see what is affected.',
      )
    }
    const seen = (marks[slot]! & used) !== 0
    if (!seen) fresh.push(slot)
    marks[slot]! |= used | flag
    return seen
  }
  for await (const snapshot of snapshots) {
    const context = `snapshot ${shortId(snapshot.id)} of ${snapshot.resource}`
    for (const ref of snapshot.streams) {
      // A stream's unread lists are fetched together (coalesced reads), a batch at a time.
      const unread = ref.lists.filter(
        (id) => !mark(Buffer.from(id, 'hex').toString('latin1'), isList, `a chunk list of ${context}`),
      )
      for (let i = 0; i < unread.length; i += listsPerRead) {
        for (const bytes of (await reader.loadMany(unread.slice(i, i + listsPerRead), context)).values()) {
          const list = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
          for (let at = 0; at < list.length; at += 32)
            mark(list.toString('latin1', at, at + 32), 0, `a chunk of ${context}`)
        }
      }
    }
  }
  return fresh
}

/**
 * Reads every index file again, one at a time, and adds up what each pack holds and what
 * of it is in use. A blob's copy counts as used only where the index reads it from: other
 * copies (two writers stored it at once) are garbage.
 */
export async function packUsage(
  repository: Repository,
  index: PackIndex,
  marks: Uint8Array,
  indexKeys: Iterable<string>,
): Promise<Map<string, PackUsage>> {
  const packs = new Map<string, PackUsage>()
  for (const key of indexKeys) {
    const buf = await readIndexPlain(repository, key)
    for (let pos = 0; pos + 36 <= buf.length; ) {
      const packId = buf.toString('hex', pos, pos + 32)
      const count = buf.readUInt32BE(pos + 32)
      let pack = packs.get(packId)
      if (!pack) {
        pack = { id: packId, indexes: new Set(), blobs: 0, usedBlobs: 0, rawBytes: 0, usedRawBytes: 0 }
        packs.set(packId, pack)
      }
      const again = pack.indexes.has(key)
      pack.indexes.add(key)
      for (let i = 0, at = pos + 36; i < count && !again; i++, at += entrySize) {
        const rawLength = buf.readUInt32BE(at + 44)
        const slot = index.slotOfKey(buf.toString('latin1', at, at + 32))
        const inUse =
          slot !== undefined && slot < marks.length && (marks[slot]! & used) !== 0 && index.packOfSlot(slot) === packId
        pack.blobs++
        pack.rawBytes += rawLength
        if (inUse) {
          pack.usedBlobs++
          pack.usedRawBytes += rawLength
        }
      }
      pos += 36 + count * entrySize
    }
  }
  return packs
}

/** An index file's plaintext, checked against its name. */
export async function readIndexPlain(repository: Repository, key: string): Promise<Buffer> {
  const bytes = await repository.backend.get(key)
  const name = idOfKey(key)
  if (sha256(bytes) !== name) throw new IntegrityError(`index ${name.slice(0, 12)} does not match its hash`)
  const plain = decodeIndexFile(bytes, name.slice(0, 12))
  return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
}

/** The index file keys on the backend now. */
export async function listIndexKeys(repository: Repository): Promise<Set<string>> {
  const found = new Set<string>()
  for await (const { key } of repository.backend.list(keys.indexPrefix)) found.add(key)
  return found
}
