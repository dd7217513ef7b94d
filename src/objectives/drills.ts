import { type Every, nextDue } from '../plan/index.js'

export interface DrillDue {
  name: string
  resource?: string
  /** When it last ran (ms), if ever. */
  lastRun?: number
  /** When it is due next (ms); a drill that never ran is due at once. */
  due: number
  overdue: boolean
}

/** Each drill with an `every`, with its next due date from its last run. */
export function drillsDue(
  drills: { name: string; resource?: string; every?: Every }[],
  lastRuns: Map<string, number>,
  now: number,
): DrillDue[] {
  return drills.flatMap((d) => {
    if (!d.every) return []
    const lastRun = lastRuns.get(d.name)
    const due = lastRun === undefined ? now : nextDue(d.every, new Date(lastRun)).getTime()
    return [{ name: d.name, resource: d.resource, lastRun, due, overdue: due <= now }]
  })
}
