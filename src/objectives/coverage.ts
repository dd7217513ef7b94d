import { Cron } from 'croner'

export interface Coverage {
  schedule: string
  /** The days checked (UTC, YYYY-MM-DD), oldest first. */
  from?: string
  to?: string
  /** Days on which the schedule ran but no snapshot followed before the next day's first run. */
  missing: string[]
}

const dayMs = 86_400_000

/**
 * Which scheduled snapshots are missing, by day: a day on which the schedule runs is
 * covered by a snapshot taken between its first run and the next day's first run (a run
 * caught up late still counts). Days are checked from the first snapshot (nothing was
 * expected before it) or `days` back, whichever is later, up to the last run that is at
 * least `graceMs` old (a snapshot in progress is not missing yet). By day rather than by run,
 * so that retention keeping one snapshot a day does not look like missing snapshots.
 */
export function planCoverage(
  schedule: string,
  snapshotTimes: number[],
  opts: { now: number; days: number; graceMs?: number },
): Coverage {
  const cron = new Cron(schedule, { paused: true, timezone: 'UTC' })
  const times = [...snapshotTimes].sort((a, b) => a - b)
  if (times.length === 0) return { schedule, missing: [] }
  const start = Math.max(startOfDay(times[0]!), startOfDay(opts.now) - (opts.days - 1) * dayMs)
  const until = opts.now - (opts.graceMs ?? 3_600_000)
  const firstRuns: { day: number; run: number }[] = []
  for (let day = start; day <= opts.now; day += dayMs) {
    const run = cron.nextRun(new Date(day - 1))
    if (run && run.getTime() < day + dayMs) firstRuns.push({ day, run: run.getTime() })
  }
  const missing: string[] = []
  let checked = 0
  for (const [i, { day, run }] of firstRuns.entries()) {
    if (run > until) continue
    checked++
    const end = firstRuns[i + 1]?.run ?? Number.POSITIVE_INFINITY
    // The first snapshot's own day counts as covered even if it was taken before that day's run.
    if (!times.some((t) => (t >= run && t < end) || (t >= day && t < day + dayMs && t === times[0])))
      missing.push(isoDay(day))
  }
  return checked > 0 ? { schedule, from: isoDay(start), to: isoDay(startOfDay(until)), missing } : { schedule, missing }
}

function startOfDay(ms: number): number {
  return Math.floor(ms / dayMs) * dayMs
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}
