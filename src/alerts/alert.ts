import { alertEvents } from '../plan/schema.js'

/** The events drkit alerts on, named `<area>.<what>`. */
export type AlertEvent = (typeof alertEvents)[number]
export { alertEvents }

export type Severity = 'critical' | 'error' | 'warning' | 'info'

/** One alert as every notifier receives it; each notifier turns it into its own payload. */
export interface Alert {
  event: AlertEvent
  message: string
  /** ISO 8601, when the problem was seen. */
  timestamp: string
  /** What it is about: a resource, or a drill's name for drill events. */
  source: string
  severity: Severity
  /** `trigger` raises a problem; `resolve` says that it is over (PagerDuty closes the incident). */
  action: 'trigger' | 'resolve'
  /** The same for every alert about one ongoing problem, so receivers can group them. */
  dedupKey: string
}

export const severities: Record<AlertEvent, Severity> = {
  'backup.failed': 'error',
  'capture.gap': 'error',
  'rpo.breached': 'critical',
  'verify.failed': 'critical',
  'drill.failed': 'error',
  'drill.overdue': 'warning',
}

/** Whether a notifier with this `events` filter takes alerts about `event` (exact names or `area.*`). */
export function wants(filter: readonly string[] | undefined, event: string): boolean {
  if (!filter) return true
  return filter.some((f) => f === event || (f.endsWith('.*') && event.startsWith(f.slice(0, -1))))
}
