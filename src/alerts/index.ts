/**
 * Alerts: tells people about problems (a failed backup, a capture gap, an RPO breach, a
 * failed verification, a failed or overdue drill) through notifiers. Delivery never blocks
 * the work that raised an alert, and an ongoing problem is not re-sent on every check.
 * It decides nothing about what is a problem: ops and the scheduler do.
 */
import { join } from 'node:path'
import type { Alert as AlertConfig, Plan } from '../plan/index.js'
import { AlertDispatcher, type DispatcherOptions } from './dispatcher.js'
import type { Notifier } from './notifier.js'
import { pagerDutyNotifier } from './pagerduty.js'
import { slackNotifier } from './slack.js'
import { fileAlertState } from './state.js'
import { webhookNotifier } from './webhook.js'

export { type Alert, type AlertEvent, alertEvents, type Severity, wants } from './alert.js'
export {
  AlertDispatcher,
  type DeliveryReport,
  type DispatcherOptions,
  dedupKey,
  type Problem,
  type Route,
} from './dispatcher.js'
export { DeliveryError } from './http.js'
export type { Notifier } from './notifier.js'
export { pagerDutyNotifier, pagerDutyPayload, pagerDutyUrl } from './pagerduty.js'
export { slackNotifier, slackPayload } from './slack.js'
export { type AlertState, fileAlertState, memoryAlertState, type OpenProblem } from './state.js'
export { webhookNotifier, webhookPayload } from './webhook.js'

type ConfigOf<T extends AlertConfig['type']> = Extract<AlertConfig, { type: T }>

/** Adding a notifier is one line here and one file beside this one. */
export const notifiers = {
  webhook: (c: ConfigOf<'webhook'>) => webhookNotifier(c),
  slack: (c: ConfigOf<'slack'>) => slackNotifier(c),
  pagerduty: (c: ConfigOf<'pagerduty'>) => pagerDutyNotifier(c),
} satisfies { [T in AlertConfig['type']]: (config: ConfigOf<T>) => Notifier }

/** Where the record of sent alerts is cached for a plan: beside the plan, in `.drkit/`. */
export function alertStateFile(plan: Plan): string {
  return join(plan.baseDir, '.drkit', 'alert-state.json')
}

/** A dispatcher for the plan's `alerts`; with none, raising an alert does nothing. */
export function openAlerts(plan: Plan, opts: DispatcherOptions = {}): AlertDispatcher {
  const routes = plan.alerts.map((config) => ({
    notifier: (notifiers[config.type] as (c: AlertConfig) => Notifier)(config),
    events: config.events,
  }))
  return new AlertDispatcher(routes, { state: fileAlertState(alertStateFile(plan)), ...opts })
}
