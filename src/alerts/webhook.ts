import type { Alert } from './alert.js'
import { postJson, redact } from './http.js'
import type { Notifier } from './notifier.js'

/**
 * The generic webhook: POSTs exactly `{ event, message, timestamp, source }`. The end of an
 * ongoing problem is the event `alert.resolved`, its message naming the problem that ended.
 */
export function webhookNotifier(config: { url: string }): Notifier {
  return {
    kind: 'webhook',
    target: redact(config.url),
    notify(alert, opts) {
      return postJson(config.url, webhookPayload(alert), opts?.signal)
    },
  }
}

export function webhookPayload(alert: Alert) {
  const { event, message, timestamp, source } = alert
  if (alert.action === 'resolve')
    return { event: 'alert.resolved', message: `${event} resolved: ${message}`, timestamp, source }
  return { event, message, timestamp, source }
}
