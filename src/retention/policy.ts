import type { RetentionPolicy } from '../plan/types.js'

/** What the policy needs of a snapshot: its id and the moment its image was taken. */
export interface RetentionInput {
  id: string
  /** ms since the epoch */
  time: number
}

export interface RetentionDecision {
  id: string
  time: number
  keep: boolean
  /** Why: "kept: daily 2026-02-14", "kept: last 3", "forgotten: matches no rule". */
  reasons: string[]
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly'

/** Each bucket's period of a moment, in UTC, as it is written in reasons. */
const periods: Record<Bucket, (d: Date) => string> = {
  hourly: (d) => d.toISOString().slice(0, 13),
  daily: (d) => d.toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (d) => d.toISOString().slice(0, 7),
  yearly: (d) => d.toISOString().slice(0, 4),
}

/** Whether the policy says anything: a resource without one keeps every snapshot. */
export function hasRules(policy: RetentionPolicy | undefined): boolean {
  if (!policy) return false
  const { last, hourly, daily, weekly, monthly, yearly, withinMs } = policy
  return [last, hourly, daily, weekly, monthly, yearly, withinMs].some((n) => n !== undefined)
}

/**
 * Decides, purely, which snapshots a policy keeps (restic's semantics): going from the
 * newest snapshot to the oldest, each bucket keeps the newest snapshot of each period
 * until it has kept `n` periods; only periods that have a snapshot count. `last` keeps the
 * newest n, `within` every snapshot younger than that at `now`. A snapshot is kept when
 * any rule keeps it, and every reason is given. Periods are UTC. Returns newest first.
 */
export function applyRetention(
  snapshots: RetentionInput[],
  policy: RetentionPolicy | undefined,
  now: number,
): RetentionDecision[] {
  const sorted = [...snapshots].sort((a, b) => b.time - a.time || b.id.localeCompare(a.id))
  if (!policy || !hasRules(policy)) {
    return sorted.map((s) => ({ ...s, keep: true, reasons: ['kept: no retention policy'] }))
  }
  const left: Partial<Record<Bucket, number>> = {}
  const lastPeriod: Partial<Record<Bucket, string>> = {}
  for (const bucket of Object.keys(periods) as Bucket[]) left[bucket] = policy[bucket] ?? 0
  let lastLeft = policy.last ?? 0
  return sorted.map((s) => {
    const reasons: string[] = []
    if (lastLeft > 0) {
      reasons.push(`kept: last ${policy.last}`)
      lastLeft--
    }
    for (const bucket of Object.keys(periods) as Bucket[]) {
      const period = periods[bucket](new Date(s.time))
      if (left[bucket]! > 0 && period !== lastPeriod[bucket]) {
        reasons.push(`kept: ${bucket} ${period}`)
        left[bucket]!--
        lastPeriod[bucket] = period
      }
    }
    if (policy.withinMs !== undefined && s.time >= now - policy.withinMs) {
      reasons.push(`kept: within ${formatSpan(policy.withinMs)}`)
    }
    const keep = reasons.length > 0
    return { ...s, keep, reasons: keep ? reasons : ['forgotten: matches no rule'] }
  })
}

/** ISO 8601 week of a UTC date, "2026-W07": weeks start on Monday, week 1 holds the first Thursday. */
function isoWeek(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3))
  const year = thursday.getUTCFullYear()
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000)) + 1
  return `${year}-W${String(week).padStart(2, '0')}`
}

/** A span as the plan would write it: 90d, 12h, 15m, 30s. */
export function formatSpan(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ]
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}
