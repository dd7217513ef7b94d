import { formatDuration } from '../plan/index.js'
import type { Timeline } from '../timeline/index.js'

export interface Freshness {
  /** The newest recoverable moment (ms), and its age at `now`; absent when nothing is recoverable. */
  newest?: number
  ageMs?: number
  /** The whole point-in-time window, oldest to newest recoverable moment, and how many stretches it has. */
  window?: { from: number; to: number; stretches: number }
  rpoMs?: number
  /** True when there is an RPO and the newest point is older than it (or there is none). */
  breached: boolean
}

/**
 * The newest recoverable point of a resource against its RPO. With capture it is the
 * shipped head of the newest generation; without, the newest snapshot: both are the end
 * of the timeline's window.
 */
export function assessFreshness(timeline: Timeline, rpoMs: number | undefined, now: number): Freshness {
  if (timeline.window.length === 0) return { rpoMs, breached: rpoMs !== undefined }
  const newest = Math.max(...timeline.window.map((r) => r.to))
  const from = Math.min(...timeline.window.map((r) => r.from))
  const ageMs = Math.max(0, now - newest)
  return {
    newest,
    ageMs,
    window: { from, to: newest, stretches: timeline.window.length },
    rpoMs,
    breached: rpoMs !== undefined && ageMs > rpoMs,
  }
}

/** An age for people: whole seconds once past a second (`2m5s`, not `2m5s105ms`). */
export function formatAge(ms: number): string {
  return formatDuration(ms < 1000 ? ms : Math.round(ms / 1000) * 1000)
}
