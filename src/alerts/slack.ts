import type { Alert } from './alert.js'
import { postJson, redact } from './http.js'
import type { Notifier } from './notifier.js'

/** A Slack incoming webhook: `text` for notifications and clients without blocks, one section block to read. */
export function slackNotifier(config: { url: string }): Notifier {
  return {
    kind: 'slack',
    target: redact(config.url),
    notify(alert, opts) {
      return postJson(config.url, slackPayload(alert), opts?.signal)
    },
  }
}

const icons = { critical: ':rotating_light:', error: ':x:', warning: ':warning:', info: ':information_source:' }

export function slackPayload(alert: Alert) {
  const icon = alert.action === 'resolve' ? ':white_check_mark:' : icons[alert.severity]
  const text = `${icon} drkit ${alert.event} (${alert.source}): ${alert.message}`
  return {
    text,
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${icon} *${alert.event}* \`${alert.source}\`\n${alert.message}` },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `drkit · ${alert.timestamp}` }] },
    ],
  }
}
