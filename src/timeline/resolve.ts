import { NotFoundError, OutsideWindowError } from '../errors.js'
import type { Boundary } from '../model.js'
import type { GenerationView, SegmentPoint, Timeline } from './timeline.js'

export type PointRequest =
  | { at: number }
  | { bookmark: { name: string; generation: string; seq: number; time: number } }
  | { snapshot: string }

/** What a restore needs: a snapshot, then changes after it up to `untilSeq`. */
export interface RestorePoint {
  snapshot: string
  generation?: string
  /** Replay changes with seq in (snapshot's seq, untilSeq]; undefined for the snapshot alone. */
  untilSeq?: number
  /** The moment the restored state is proven for (ms since the epoch). */
  time: number
  segments: SegmentPoint[]
  /** False when the resource has no capture and the nearest earlier snapshot stands in for the moment. */
  exact: boolean
}

/**
 * Resolves a moment, bookmark or snapshot to a restore point: the state of the last
 * proven transaction boundary at or before the moment. `boundariesOf` reads the
 * boundaries inside one segment, needed only when the moment falls within it.
 */
export async function resolvePoint(
  timeline: Timeline,
  request: PointRequest,
  boundariesOf: (segment: SegmentPoint) => Promise<Boundary[]>,
): Promise<RestorePoint> {
  if ('snapshot' in request) return resolveSnapshot(timeline, request.snapshot)
  if ('bookmark' in request) return resolveBookmark(timeline, request.bookmark)
  const at = request.at
  const range = [...timeline.window].reverse().find((r) => r.from <= at && at <= r.to)
  if (!range && timeline.generations.length === 0) {
    // Without capture, the newest snapshot at or before the moment is the best proven state.
    const s = [...timeline.plainSnapshots].sort((a, b) => a.time - b.time).findLast((x) => x.time <= at)
    if (s) return { snapshot: s.id, time: s.time, segments: [], exact: false }
  }
  if (!range) throw new OutsideWindowError(outsideMessage(timeline, at), 'Pick a moment inside one of these ranges.')
  if (!range.generation) return { snapshot: range.snapshot, time: range.from, segments: [], exact: false }
  const g = timeline.generations.find((x) => x.id === range.generation)!
  const snapshot = [...g.snapshots].reverse().find((s) => s.time <= at)!
  let best: Boundary = { seq: snapshot.seq!, time: snapshot.time }
  for (const seg of coveringSegments(g, snapshot.seq!, range.toSeq!)) {
    // A segment without a proven boundary (a stretch read in pieces) proves nothing by itself.
    if (seg.lastTime === 0) continue
    if (seg.firstTime > at) break
    if (seg.lastTime <= at) {
      best = { seq: seg.last, time: seg.lastTime }
      continue
    }
    for (const b of await boundariesOf(seg)) if (b.time <= at && b.seq > best.seq) best = b
    break
  }
  if (g.head && g.head.time <= at && g.head.seq <= range.toSeq! && g.head.seq >= best.seq) best = g.head
  return {
    snapshot: snapshot.id,
    generation: g.id,
    untilSeq: best.seq,
    time: Math.max(best.time, snapshot.time),
    segments: coveringSegments(g, snapshot.seq!, best.seq),
    exact: true,
  }
}

function resolveSnapshot(timeline: Timeline, id: string): RestorePoint {
  const all = [...timeline.plainSnapshots, ...timeline.generations.flatMap((g) => g.snapshots)]
  const s = all.find((x) => x.id === id)
  if (!s) throw new NotFoundError(`${timeline.resource} has no snapshot ${id.slice(0, 8)}`)
  return { snapshot: s.id, generation: s.generation, time: s.time, segments: [], exact: true }
}

function resolveBookmark(timeline: Timeline, b: { name: string; generation: string; seq: number; time: number }) {
  const g = timeline.generations.find((x) => x.id === b.generation)
  const range = g?.ranges.find(
    (r) => r.toSeq! >= b.seq && g.snapshots.some((s) => s.id === r.snapshot && s.seq! <= b.seq),
  )
  const snapshot = g && range ? [...g.snapshots].reverse().find((s) => s.seq! <= b.seq) : undefined
  if (!g || !range || !snapshot) {
    throw new OutsideWindowError(
      `bookmark ${b.name} (${new Date(b.time).toISOString()}) cannot be restored: ` +
        'the snapshot or changes it needs are no longer in the repository',
    )
  }
  return {
    snapshot: snapshot.id,
    generation: g.id,
    untilSeq: b.seq,
    time: b.time,
    segments: coveringSegments(g, snapshot.seq!, b.seq),
    exact: true,
  } satisfies RestorePoint
}

/** The segments holding changes with seq in (after, until], in order. */
function coveringSegments(g: GenerationView, after: number, until: number): SegmentPoint[] {
  return g.segments.filter((s) => s.last > after && s.first <= until)
}

function outsideMessage(timeline: Timeline, at: number): string {
  const iso = (ms: number) => new Date(ms).toISOString()
  if (timeline.window.length === 0) return `${timeline.resource} has nothing to restore yet: it has no snapshots`
  const ranges = timeline.window.map((r) => (r.from === r.to ? iso(r.from) : `${iso(r.from)} – ${iso(r.to)}`))
  return `${iso(at)} is outside ${timeline.resource}'s recoverable window: ${ranges.join(', ')}`
}
