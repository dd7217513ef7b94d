import type { Alert } from './alert.js'

/**
 * Where alerts go. `notify` resolves once the receiver has accepted the alert and throws a
 * DeliveryError otherwise (saying whether a retry may help); it never retries by itself:
 * the dispatcher owns retries, back-off and de-duplication for every notifier alike.
 */
export interface Notifier {
  readonly kind: string
  /** For messages: the receiver without secrets (an origin, never a full webhook URL). */
  readonly target: string
  notify(alert: Alert, opts?: { signal?: AbortSignal }): Promise<void>
}
