import { IntegrityError } from '../errors.js'
import type { Codec } from '../repository/crypto/index.js'
import { keys } from '../repository/format.js'
import { FramePool } from '../repository/frame-pool.js'
import { openFrames } from '../repository/frames.js'
import { sha256 } from '../repository/hash.js'
import type { Repository } from '../repository/index.js'
import { readPackEntries } from '../repository/pack.js'
import type { BlobLocation } from '../repository/pack-index.js'

/** Packs being decoded by the frame workers while the next ones are read and hashed. */
const packsInFlight = 3

export interface PackDamage {
  problem?: string
  badBlobs: string[]
}

type PackBlobs = { id: string; at: BlobLocation }[]

/**
 * Reads whole packs and checks them: the pack's hash and trailer on this thread, while the
 * frame workers decode the packs read before and check every blob against its id, so that
 * reading, hashing and decompressing overlap. A pack whose blobs do not all check out is
 * checked again here, blob by blob, to name exactly the damaged ones. `report` is called
 * once per pack, in order, with the stored bytes read.
 */
export async function readPacks(
  repository: Repository,
  /** Each pack with its blobs, built when the pack is read (an object per blob is costly across a repository). */
  packs: [string, () => PackBlobs][],
  report: (packId: string, bytes: number, damage: PackDamage) => void,
): Promise<void> {
  const { backend, codec } = repository
  const pending: Promise<void>[] = []
  for (const [packId, blobsOf] of packs) {
    const blobs = blobsOf()
    const bytes = await backend.get(keys.pack(packId))
    const outer = packProblems(bytes, packId, codec)
    const size = bytes.length
    const specs = frameSpecs(blobs, size)
    const decoded =
      specs.frames.length > 0
        ? FramePool.shared().check(bytes, specs.frames, `pack ${packId.slice(0, 12)}`, codec.key)
        : Promise.resolve([])
    const done = decoded.then(
      () => report(packId, size, summary(outer, specs.cut)),
      async (err: unknown) => {
        if (!(err instanceof IntegrityError)) throw err
        // Damage inside the frames: read the pack again and find every damaged blob.
        const again = await backend.get(keys.pack(packId))
        report(packId, size, checkPack(again, packId, blobs, codec))
      },
    )
    // A failure is reported when it is awaited, not as an unhandled rejection.
    done.catch(() => undefined)
    pending.push(done)
    while (pending.length >= packsInFlight) await pending.shift()
  }
  for (const done of pending) await done
}

/** The frames the index places in a pack, for the frame workers; blobs past its end are cut off. */
function frameSpecs(blobs: PackBlobs, size: number) {
  const byFrame = new Map<number, PackBlobs>()
  for (const blob of blobs) {
    const list = byFrame.get(blob.at.offset)
    if (list) list.push(blob)
    else byFrame.set(blob.at.offset, [blob])
  }
  const frames: { start: number; length: number; blobs: { id: string; inner: number; rawLength: number }[] }[] = []
  const cut: string[] = []
  for (const [offset, list] of byFrame) {
    const length = list[0]!.at.length
    if (offset + length > size) cut.push(...list.map((b) => b.id))
    else
      frames.push({
        start: offset,
        length,
        blobs: list.map(({ id, at }) => ({ id, inner: at.inner, rawLength: at.rawLength })),
      })
  }
  return { frames, cut }
}

/** What is wrong with a pack as a whole: its hash, its trailer. */
function packProblems(bytes: Uint8Array, packId: string, codec: Codec): string[] {
  const problems: string[] = []
  if (sha256(bytes) !== packId) problems.push('does not match its hash')
  try {
    readPackEntries(bytes, packId, codec)
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err
    problems.push('has a damaged trailer')
  }
  return problems
}

function summary(problems: string[], badBlobs: string[]): PackDamage {
  const all = badBlobs.length > 0 ? [...problems, `holds ${badBlobs.length} damaged chunks`] : problems
  return { problem: all.length > 0 ? `pack ${all.join(', ')}` : undefined, badBlobs }
}

/** Checks a whole pack: its hash, its trailer, and every blob the index places in it. */
function checkPack(
  bytes: Uint8Array,
  packId: string,
  blobs: PackBlobs,
  codec: Codec,
): { problem?: string; badBlobs: string[] } {
  // The same decoding and hash checks as a restore's (frames.js), on the whole pack at once.
  const frames = new Map<number, { id: string; at: BlobLocation }[]>()
  for (const blob of blobs) frames.set(blob.at.offset, [...(frames.get(blob.at.offset) ?? []), blob])
  const inPack = [...frames].filter(([offset, b]) => offset + b[0]!.at.length <= bytes.length)
  const specs = inPack.map(([offset, b]) => ({
    start: offset,
    length: b[0]!.at.length,
    blobs: b.map(({ id, at }) => ({ id, inner: at.inner, rawLength: at.rawLength })),
  }))
  const opened = openFrames(bytes, specs, `pack ${packId.slice(0, 12)}`, codec.key).blobs
  const checked = inPack.flatMap(([, b]) => b.map(({ id }) => id))
  const badBlobs = checked.filter((_, i) => typeof opened[i] === 'string')
  // Blobs whose frame lies past the end of a truncated pack.
  for (const [offset, b] of frames) if (offset + b[0]!.at.length > bytes.length) badBlobs.push(...b.map((x) => x.id))
  return summary(packProblems(bytes, packId, codec), badBlobs)
}
