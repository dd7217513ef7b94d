import type { Alert } from './alert.js'
import { postJson, redact } from './http.js'
import type { Notifier } from './notifier.js'

export const pagerDutyUrl = 'https://events.pagerduty.com/v2/enqueue'

/**
 * PagerDuty Events API v2: one incident per ongoing problem (`dedup_key`), triggered while it
 * lasts and resolved when it ends.
 */
export function pagerDutyNotifier(config: { routingKey: string; url?: string }): Notifier {
  const url = config.url ?? pagerDutyUrl
  return {
    kind: 'pagerduty',
    target: redact(url),
    notify(alert, opts) {
      return postJson(url, pagerDutyPayload(alert, config.routingKey), opts?.signal)
    },
  }
}

export function pagerDutyPayload(alert: Alert, routingKey: string) {
  return {
    routing_key: routingKey,
    event_action: alert.action,
    dedup_key: alert.dedupKey,
    payload: {
      summary: `${alert.event} ${alert.source}: ${alert.message}`.slice(0, 1024),
      source: alert.source,
      severity: alert.severity,
      timestamp: alert.timestamp,
      component: 'drkit',
      class: alert.event,
    },
  }
}
