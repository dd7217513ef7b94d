import { type AlertDispatcher, type DeliveryReport, openAlerts } from '../alerts/index.js'
import type { Plan } from '../plan/index.js'
import type { Output } from './output.js'

/**
 * The plan's alerts for a command: failed deliveries are warned about on stderr as they
 * settle. Call `flush` before exiting, after the command's work is done, so that a slow or
 * dead receiver delays only the exit, never the work.
 */
export function commandAlerts(plan: Plan, out: Output): AlertDispatcher {
  return openAlerts(plan, {
    onDelivery: (r) => {
      if (!r.ok) out.warn(deliveryFailure(r))
    },
  })
}

export function deliveryFailure(r: DeliveryReport): string {
  return `alert ${r.event} (${r.source}) to ${r.notifier} not delivered after ${r.attempts} tries: ${r.error}`
}
