import type { Boundary } from '../model.js'

/** What the timeline is built from: summaries read from the repository. */
export interface SnapshotPoint {
  id: string
  /** The image's moment (ms since the epoch). */
  time: number
  seq?: number
  generation?: string
}

export interface SegmentPoint {
  generation: string
  first: number
  last: number
  firstTime: number
  lastTime: number
}

export interface TimelineInput {
  resource: string
  snapshots: SnapshotPoint[]
  segments: SegmentPoint[]
  heads: Map<string, Boundary>
}

/** A stretch of moments that can be restored exactly, from a snapshot and the segments after it. */
export interface Range {
  generation?: string
  from: number
  to: number
  /** The snapshot the stretch starts from, and how far contiguous segments reach after it. */
  snapshot: string
  toSeq?: number
}

export interface GenerationView {
  id: string
  snapshots: SnapshotPoint[]
  segments: SegmentPoint[]
  /** Restorable stretches: more than one when segments are missing in between. */
  ranges: Range[]
  head?: Boundary
}

export interface Timeline {
  resource: string
  generations: GenerationView[]
  /** Snapshots taken without capture: each restores its own moment only. */
  plainSnapshots: SnapshotPoint[]
  /** Every restorable stretch, oldest first. */
  window: Range[]
}

/**
 * Builds the timeline of one resource (pure). Within a generation, each snapshot starts
 * a range that extends through every segment that continues its sequence without a hole,
 * and to the generation's head when the segments reach it.
 */
export function buildTimeline(input: TimelineInput): Timeline {
  const byGeneration = new Map<string, GenerationView>()
  const plainSnapshots: SnapshotPoint[] = []
  const view = (id: string) => {
    let g = byGeneration.get(id)
    if (!g) {
      g = { id, snapshots: [], segments: [], ranges: [] }
      byGeneration.set(id, g)
    }
    return g
  }
  for (const s of input.snapshots) {
    if (s.generation && s.seq !== undefined) view(s.generation).snapshots.push(s)
    else plainSnapshots.push(s)
  }
  for (const seg of input.segments) view(seg.generation).segments.push(seg)
  for (const g of byGeneration.values()) {
    g.snapshots.sort((a, b) => a.seq! - b.seq! || a.time - b.time)
    g.segments.sort((a, b) => a.first - b.first || a.last - b.last)
    g.head = input.heads.get(g.id)
    g.ranges = rangesOf(g)
  }
  const generations = [...byGeneration.values()].sort((a, b) => a.id.localeCompare(b.id))
  const window = [
    ...plainSnapshots.map((s) => ({ from: s.time, to: s.time, snapshot: s.id })),
    ...generations.flatMap((g) => g.ranges),
  ].sort((a, b) => a.from - b.from || a.to - b.to)
  return { resource: input.resource, generations, plainSnapshots, window }
}

function rangesOf(g: GenerationView): Range[] {
  const ranges: Range[] = []
  for (const s of g.snapshots) {
    let reach = s.seq!
    let to = s.time
    for (const seg of g.segments) {
      if (seg.last <= reach) continue
      if (seg.first > reach + 1) break
      reach = seg.last
      to = Math.max(to, seg.lastTime)
    }
    if (g.head && g.head.seq <= reach) to = Math.max(to, g.head.time)
    const previous = ranges.at(-1)
    // A later snapshot inside a range that already reaches as far adds nothing.
    if (previous && previous.toSeq! >= reach && previous.to >= to) continue
    ranges.push({ generation: g.id, from: s.time, to, snapshot: s.id, toSeq: reach })
  }
  return ranges
}
