import type { Boundary } from '../model.js'
import type { RetentionPolicy } from '../plan/types.js'
import { applyRetention, formatSpan, hasRules, type RetentionDecision } from './policy.js'

export interface PlanSnapshot {
  id: string
  /** The image's moment, ms since the epoch. */
  time: number
  generation?: string
  seq?: number
}

export interface PlanSegment {
  key: string
  generation: string
  first: number
  last: number
  lastTime: number
}

export interface PlanBookmark {
  name: string
  generation: string
  seq: number
  time: number
}

export interface ForgetInput {
  snapshots: PlanSnapshot[]
  segments: PlanSegment[]
  heads: Map<string, Boundary>
  bookmarks: PlanBookmark[]
  policy: RetentionPolicy | undefined
  now: number
}

export interface ForgetPlan {
  snapshots: RetentionDecision[]
  /** Segment keys no kept snapshot and no moment of the PITR window needs any more. */
  segments: string[]
  /** Bookmarks whose moment is no longer restorable once the plan is carried out. */
  lostBookmarks: string[]
  /** Where point-in-time restore will start, ms since the epoch; undefined when it is not limited. */
  windowStart?: number
}

/**
 * Decides, purely, what `drkit forget` removes from one resource: the snapshots the policy
 * does not keep, and the segments nothing can use afterwards. Within a generation, a
 * moment is restored from the newest snapshot at or before it plus the segments after
 * that snapshot, so:
 *
 * - with `pitr`, for each generation that reaches into the window, the newest snapshot at
 *   or before the window's start (or the generation's first, when it began inside the
 *   window) is kept ("kept: pitr base"), so every moment of the window stays restorable;
 *   segments ending at or before that base are not needed; a generation that ended
 *   before the window needs none;
 * - without `pitr`, every moment from a generation's oldest kept snapshot on stays restorable;
 * - a generation with no kept snapshot needs none of its segments.
 *
 * Heads are never removed, nor a generation's newest segment when it reaches past the head
 * (a capture counts on from them). A bookmark stays restorable when a kept snapshot of its generation is at or before it and the segments
 * in between are kept; the others are reported, and their records are left in place.
 */
export function planForget(input: ForgetInput): ForgetPlan {
  const decisions = applyRetention(input.snapshots, input.policy, input.now)
  if (!hasRules(input.policy) && input.policy?.pitrMs === undefined) {
    return { snapshots: decisions, segments: [], lostBookmarks: [] }
  }
  const windowStart = input.policy?.pitrMs === undefined ? undefined : input.now - input.policy.pitrMs
  const byId = new Map(decisions.map((d) => [d.id, d]))
  const generations = new Set([...input.snapshots, ...input.segments].flatMap((x) => x.generation ?? []))
  /** Per generation, the seq from which its segments are needed (Infinity: none are). */
  const neededAfter = new Map<string, number>()
  for (const generation of generations) {
    const own = input.snapshots
      .filter((s) => s.generation === generation && s.seq !== undefined)
      .sort((a, b) => a.seq! - b.seq!)
    let needed = Number.POSITIVE_INFINITY
    if (windowStart !== undefined && reaches(generation, input, windowStart)) {
      // Every moment of the window restores from one base: the newest snapshot at or before
      // the window's start, or the generation's first when it began inside the window.
      const base = own.filter((s) => s.time <= windowStart).at(-1) ?? own[0]
      if (base) {
        const decision = byId.get(base.id)!
        if (!decision.keep) decision.reasons = []
        decision.keep = true
        decision.reasons.push(`kept: pitr base (window ${formatSpan(input.policy!.pitrMs!)})`)
        needed = base.seq!
      }
    }
    // Without a window, every moment from the oldest kept snapshot on stays restorable; with
    // one, kept snapshots older than the base restore alone.
    if (windowStart === undefined) needed = own.find((s) => byId.get(s.id)!.keep)?.seq ?? needed
    neededAfter.set(generation, needed)
  }
  // A generation's newest segment stays when it reaches past the head: a capture that
  // restarts counts on from the newest of the two.
  const newest = new Map<string, number>()
  for (const s of input.segments) newest.set(s.generation, Math.max(newest.get(s.generation) ?? 0, s.last))
  const pinned = (s: PlanSegment) =>
    s.last === newest.get(s.generation) && s.last > (input.heads.get(s.generation)?.seq ?? -1)
  const segments = input.segments
    .filter((s) => s.last <= neededAfter.get(s.generation)! && !pinned(s))
    .map((s) => s.key)
  const gone = new Set(segments)
  const lostBookmarks = input.bookmarks
    .filter((b) => !restorable(b, input, byId, gone))
    .map((b) => b.name)
    .filter((name) => {
      // Reported only when this plan is what breaks it.
      const before = input.bookmarks.find((b) => b.name === name)!
      return restorable(before, input, undefined, new Set())
    })
  return { snapshots: decisions, segments, lostBookmarks, windowStart }
}

/** Whether a generation has anything at or after `from`: a segment, a head or a snapshot. */
function reaches(generation: string, input: ForgetInput, from: number): boolean {
  const head = input.heads.get(generation)
  if (head && head.time >= from) return true
  if (input.segments.some((s) => s.generation === generation && s.lastTime >= from)) return true
  return input.snapshots.some((s) => s.generation === generation && s.time >= from)
}

/** Whether a bookmark can be restored from the kept snapshots (all when `decisions` is undefined) and segments. */
function restorable(
  b: PlanBookmark,
  input: ForgetInput,
  decisions: Map<string, RetentionDecision> | undefined,
  gone: Set<string>,
): boolean {
  const base = input.snapshots
    .filter((s) => s.generation === b.generation && s.seq !== undefined && s.seq <= b.seq)
    .filter((s) => decisions?.get(s.id)?.keep ?? true)
    .sort((x, y) => x.seq! - y.seq!)
    .at(-1)
  if (!base) return false
  let reach = base.seq!
  for (const seg of input.segments
    .filter((s) => s.generation === b.generation && !gone.has(s.key))
    .sort((x, y) => x.first - y.first)) {
    if (reach >= b.seq) break
    if (seg.last <= reach) continue
    if (seg.first > reach + 1) return false
    reach = seg.last
  }
  return reach >= b.seq
}
