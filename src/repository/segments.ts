import { IntegrityError } from '../errors.js'
import type { Boundary, Change } from '../model.js'
import type { Backend } from './backends/backend.js'
import { decodeJson, encodeJson } from './compress.js'
import type { Codec } from './crypto/codec.js'
import { keys } from './format.js'
import { sha256 } from './hash.js'
import { decodeChange, encodeChange, type StoredChange } from './values.js'

/**
 * Segments: files of captured changes, shipped in order. A segment's key names what it
 * holds, so a timeline is read from a listing alone:
 *   segments/<resource>/<generation>/<first seq>-<last seq>-<first boundary ms>-<last boundary ms>-<hash>
 * Shipping is at least once: a segment may overlap an earlier one, and readers skip
 * changes they have seen. Heads record the newest proven boundary of a generation, so
 * that a quiet resource stays recoverable up to now without new segments.
 */
export interface SegmentRef {
  key: string
  resource: string
  generation: string
  first: number
  last: number
  firstTime: number
  lastTime: number
}

export interface SegmentData {
  /** Proven transaction boundaries within [first, last], the last one at `last`. */
  boundaries: Boundary[]
  changes: Change[]
}

const namePattern = /^(\d{16})-(\d{16})-(\d{13})-(\d{13})-([0-9a-f]{16})$/

export async function writeSegment(
  backend: Backend,
  resource: string,
  generation: string,
  data: SegmentData,
  codec: Codec,
): Promise<SegmentRef> {
  const first = data.changes[0]!.seq
  const last = data.changes.at(-1)!.seq
  const boundaries = data.boundaries.filter((b) => b.seq >= first && b.seq <= last)
  const bytes = encodeJson({ boundaries, changes: data.changes.map(encodeChange) }, codec)
  const firstTime = boundaries[0]?.time ?? 0
  const lastTime = boundaries.at(-1)?.time ?? 0
  const name = [pad(first, 16), pad(last, 16), pad(firstTime, 13), pad(lastTime, 13), sha256(bytes).slice(0, 16)].join(
    '-',
  )
  const key = keys.segment(resource, generation, name)
  await backend.put(key, bytes, { ifAbsent: true })
  return { key, resource, generation, first, last, firstTime, lastTime }
}

export async function listSegments(backend: Backend, resource: string, generation?: string): Promise<SegmentRef[]> {
  const found: SegmentRef[] = []
  for await (const { key } of backend.list(keys.segmentPrefix(resource, generation))) {
    const parts = key.split('/')
    const match = namePattern.exec(parts[3] ?? '')
    if (!match) continue
    found.push({
      key,
      resource,
      generation: parts[2]!,
      first: Number(match[1]),
      last: Number(match[2]),
      firstTime: Number(match[3]),
      lastTime: Number(match[4]),
    })
  }
  return found.sort((a, b) => a.generation.localeCompare(b.generation) || a.first - b.first || a.last - b.last)
}

export async function readSegment(backend: Backend, ref: SegmentRef, codec: Codec): Promise<SegmentData> {
  const bytes = await backend.get(ref.key)
  if (!ref.key.endsWith(sha256(bytes).slice(0, 16))) {
    throw new IntegrityError(`segment ${ref.key} does not match its hash: it is damaged`)
  }
  const doc = decodeJson<{ boundaries: Boundary[]; changes: StoredChange[] }>(bytes, `segment ${ref.key}`, codec)
  return { boundaries: doc.boundaries, changes: doc.changes.map(decodeChange) }
}

export async function writeHead(backend: Backend, resource: string, generation: string, head: Boundary, codec: Codec) {
  await backend.put(keys.head(resource, generation), encodeJson(head, codec))
}

/** The newest proven boundary of each generation of a resource. */
export async function readHeads(backend: Backend, resource: string, codec: Codec): Promise<Map<string, Boundary>> {
  const heads = new Map<string, Boundary>()
  for await (const { key } of backend.list(keys.headPrefix(resource))) {
    const generation = key.slice(key.lastIndexOf('/') + 1)
    heads.set(generation, decodeJson<Boundary>(await backend.get(key), `head ${key}`, codec))
  }
  return heads
}

function pad(n: number, width: number): string {
  return String(Math.max(0, Math.trunc(n))).padStart(width, '0')
}
