import { IntegrityError } from '../errors.js'
import { assessFreshness, formatAge, type Interval, planCoverage, subtractWindows } from '../objectives/index.js'
import { formatDuration, type Resource } from '../plan/index.js'
import type { Repository, SegmentRef, Snapshot } from '../repository/index.js'
import { shortId } from '../repository/index.js'
import { buildTimeline, type Timeline } from '../timeline/index.js'
import type { VerifyProblem } from './verify.js'

/** One resource's verdict: what damage costs it, and its freshness and coverage against the plan. */
export interface ResourceCheck {
  resource: string
  ok: boolean
  /** The resource's snapshots that cannot be restored. */
  damagedSnapshots: string[]
  /** Moments (ISO 8601, both ends included) that were recoverable and no longer are. */
  unrecoverable: { from: string; to: string }[]
  freshness: { newest?: string; ageMs?: number; rpoMs?: number; ok: boolean }
  /** For a resource with `snapshots.schedule`: the days checked and those without a snapshot. */
  coverage?: { schedule: string; from?: string; to?: string; missing: string[]; ok: boolean }
  /** One line per finding, for people. */
  findings: string[]
}

export interface ResourceCheckOptions {
  now: number
  /** Segments to read and check against their hashes (all, or a share of them); none without --read-data. */
  readSegments: (segments: SegmentRef[]) => SegmentRef[]
}

const iso = (ms: number) => new Date(ms).toISOString()
const dayMs = 86_400_000

/**
 * Checks one resource: reads its segments when asked (a damaged one is a problem), finds
 * holes in its change chains, and works out which moments the damage makes unrecoverable
 * by comparing the timeline with and without the damaged snapshots and segments. Then the
 * newest recoverable point against the RPO, and the schedule's coverage.
 */
export async function checkResource(
  repository: Repository,
  resource: Resource,
  snapshots: Snapshot[],
  problems: VerifyProblem[],
  opts: ResourceCheckOptions,
): Promise<ResourceCheck> {
  const name = resource.name
  const [segments, heads] = await Promise.all([repository.listSegments(name), repository.readHeads(name)])
  const damagedSegments = new Map<string, VerifyProblem>()
  for (const segment of opts.readSegments(segments)) {
    try {
      await repository.readSegment(segment)
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err
      const problem: VerifyProblem = { object: segment.key, problem: err.message, snapshots: [] }
      damagedSegments.set(segment.key, problem)
      problems.push(problem)
    }
  }
  const ids = new Set(snapshots.map((s) => s.id))
  const damaged = [...new Set(problems.flatMap((p) => p.snapshots.filter((id) => ids.has(id))))]
  const timelineOf = (skip: Set<string>, skipSegments: Set<string>) =>
    buildTimeline({
      resource: name,
      snapshots: snapshots
        .filter((s) => !skip.has(s.id))
        .map((s) => ({
          id: s.id,
          time: Date.parse(s.position.time),
          seq: s.position.seq,
          generation: s.position.generation,
        })),
      segments: segments.filter((s) => !skipSegments.has(s.key)),
      heads,
    })
  const before = timelineOf(new Set(), new Set())
  const after = timelineOf(new Set(damaged), new Set(damagedSegments.keys()))
  const findings: string[] = []
  const lost = subtractWindows(before.window, after.window)
  // Each damaged segment is blamed for the lost stretch that begins where the changes before it end.
  for (const [key, problem] of damagedSegments) {
    const segment = segments.find((s) => s.key === key)!
    const previous = segments.filter((s) => s.generation === segment.generation && s.last < segment.first).at(-1)
    const from = previous?.lastTime ?? segment.firstTime
    const stretch = lost.find((l) => l.to >= from && l.from <= Math.max(from, segment.lastTime))
    if (stretch) problem.moments = { from: iso(stretch.from), to: iso(stretch.to) }
  }
  for (const hole of [...segmentHoles(before), ...headsAhead(before)]) {
    problems.push({ ...hole, snapshots: [], moments: { from: iso(hole.moments.from), to: iso(hole.moments.to) } })
    lost.push(hole.moments)
  }
  const unrecoverable = lost.sort((a, b) => a.from - b.from).map((i) => ({ from: iso(i.from), to: iso(i.to) }))
  if (damaged.length > 0) findings.push(`snapshots ${damaged.map(shortId).join(', ')} cannot be restored`)
  for (const u of unrecoverable)
    findings.push(`${u.from === u.to ? u.from : `${u.from} – ${u.to}`} can no longer be restored exactly`)

  const fresh = assessFreshness(after, resource.objectives.rpoMs, opts.now)
  const freshness = {
    newest: fresh.newest === undefined ? undefined : iso(fresh.newest),
    ageMs: fresh.ageMs,
    rpoMs: fresh.rpoMs,
    ok: !fresh.breached,
  }
  if (fresh.breached)
    findings.push(
      fresh.newest === undefined
        ? `nothing is recoverable, against an RPO of ${formatDuration(fresh.rpoMs!)}`
        : `the newest recoverable point is ${formatAge(fresh.ageMs!)} old, over the RPO of ${formatDuration(fresh.rpoMs!)}`,
    )

  let coverage: ResourceCheck['coverage']
  const schedule = resource.snapshots?.schedule
  if (schedule) {
    const healthy = snapshots.filter((s) => !damaged.includes(s.id)).map((s) => Date.parse(s.time))
    const planned = planCoverage(schedule, healthy, { now: opts.now, days: coverageDays(resource) })
    coverage = { ...planned, ok: planned.missing.length === 0 }
    for (const day of planned.missing) findings.push(`no snapshot for ${day} (schedule "${schedule}")`)
  }
  const ok = damaged.length === 0 && unrecoverable.length === 0 && freshness.ok && (coverage?.ok ?? true)
  return { resource: name, ok, damagedSnapshots: damaged, unrecoverable, freshness, coverage, findings }
}

/**
 * How many days coverage looks back: 30, or as many days as retention keeps daily
 * snapshots, so that snapshots forgotten on purpose are not reported missing.
 */
function coverageDays(resource: Resource): number {
  const r = resource.retention
  if (!r) return 30
  if (r.daily !== undefined) return Math.max(1, r.daily)
  return r.withinMs ? Math.max(1, Math.ceil(r.withinMs / dayMs)) : 1
}

/**
 * Changes missing in the middle of a generation's chain: segments on both sides of the
 * hole, so it is not retention trimming old changes but lost data. The moments between
 * the end of the stretch before the hole and the start of the next one cannot be restored.
 */
function segmentHoles(timeline: Timeline): { object: string; problem: string; moments: Interval }[] {
  const holes: { object: string; problem: string; moments: Interval }[] = []
  for (const g of timeline.generations) {
    let reach: number | undefined
    for (const seg of g.segments) {
      if (reach !== undefined && seg.first > reach + 1) {
        const stretch = g.ranges.find((r) => r.toSeq !== undefined && r.toSeq >= reach! && r.toSeq < seg.first)
        const next = g.ranges.find((r) => r.from > (stretch?.to ?? 0))
        if (stretch) {
          holes.push({
            object: `segments/${timeline.resource}/${g.id}/`,
            problem: `changes ${reach + 1}–${seg.first - 1} of generation ${g.id} are missing`,
            moments: { from: stretch.to, to: next?.from ?? Math.max(seg.lastTime, g.head?.time ?? 0) },
          })
        }
      }
      reach = Math.max(reach ?? seg.last, seg.last)
    }
  }
  return holes
}

/**
 * A head ahead of its generation's segments (and of its newest snapshot): changes the
 * agent recorded as shipped are not in the repository. The moments after the last
 * stored change cannot be restored exactly.
 */
function headsAhead(timeline: Timeline): { object: string; problem: string; moments: Interval }[] {
  const found: { object: string; problem: string; moments: Interval }[] = []
  for (const g of timeline.generations) {
    if (!g.head || g.segments.length === 0) continue
    const reach = g.segments.reduce((m, s) => Math.max(m, s.last), 0)
    const reachTime = g.segments.reduce((m, s) => Math.max(m, s.lastTime), 0)
    const newestSnapshot = Math.max(-1, ...g.snapshots.map((s) => s.seq ?? -1))
    if (g.head.seq <= reach || g.head.seq <= newestSnapshot) continue
    found.push({
      object: `heads/${timeline.resource}/${g.id}`,
      problem: `the head of generation ${g.id} is at change ${g.head.seq}, but its segments end at ${reach}`,
      moments: { from: reachTime, to: Math.max(reachTime, g.head.time) },
    })
  }
  return found
}
