import { setTimeout as sleep } from 'node:timers/promises'
import { type Alert, type AlertEvent, severities, wants } from './alert.js'
import { DeliveryError } from './http.js'
import type { Notifier } from './notifier.js'
import { type AlertState, memoryAlertState } from './state.js'

/** A problem to tell the notifiers about. */
export interface Problem {
  event: AlertEvent
  /** A resource, or a drill's name for drill events. */
  source: string
  message: string
  /** A one-off event (a capture gap) is sent each time; an ongoing one once, until resolved. */
  oneOff?: boolean
}

export interface DeliveryReport {
  notifier: string
  event: AlertEvent
  source: string
  action: Alert['action']
  ok: boolean
  attempts: number
  error?: string
}

export interface Route {
  notifier: Notifier
  /** Event names or `area.*`; every event when absent. */
  events?: readonly string[]
}

export interface DispatcherOptions {
  state?: AlertState
  /** Tries per delivery, the first included; waits double from baseDelayMs up to maxDelayMs. */
  attempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** An ongoing problem is sent again after this long, as a reminder. */
  remindAfterMs?: number
  /** Each delivery's outcome, as it settles: a failure after the last try is reported here. */
  onDelivery?: (report: DeliveryReport) => void
  now?: () => Date
}

export const defaultDispatcherOptions = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, remindAfterMs: 86_400_000 }

/**
 * Sends alerts to every notifier whose `events` filter takes them, in the background: `raise`
 * and `resolve` return at once, so the work that raised an alert never waits for a receiver.
 * A failed delivery is retried with exponential back-off; one that still fails is reported
 * and forgotten as sent, so the next check tries again. `flush` waits for every delivery.
 */
export class AlertDispatcher {
  private readonly opts: Required<Omit<DispatcherOptions, 'onDelivery'>> & Pick<DispatcherOptions, 'onDelivery'>
  private readonly pending = new Set<Promise<void>>()
  /** Work on one problem is chained, so a raise and a resolve of it are applied in order. */
  private readonly chains = new Map<string, Promise<void>>()
  private reports: DeliveryReport[] = []

  constructor(
    private readonly routes: Route[],
    opts: DispatcherOptions = {},
  ) {
    this.opts = { ...defaultDispatcherOptions, state: memoryAlertState(), now: () => new Date(), ...opts }
  }

  get enabled(): boolean {
    return this.routes.length > 0
  }

  /** Tells the notifiers about a problem, unless it is ongoing and they were told already. */
  raise(problem: Problem): void {
    this.enqueue(dedupKey(problem.event, problem.source), async (key) => {
      const now = this.opts.now()
      const open = problem.oneOff ? undefined : await this.opts.state.get(key)
      if (open && now.getTime() - Date.parse(open.sentAt) < this.opts.remindAfterMs) return
      const alert = this.alert(problem, 'trigger', key, now)
      if (!problem.oneOff) {
        const record = { ...problem, since: open?.since ?? alert.timestamp, sentAt: alert.timestamp }
        await this.opts.state.set(key, record)
      }
      const delivered = await this.deliver(alert)
      if (!delivered && !problem.oneOff) await this.opts.state.set(key, undefined)
    })
  }

  /** Says that an ongoing problem is over, if the notifiers were told about it. */
  resolve(event: AlertEvent, source: string, message: string): void {
    this.enqueue(dedupKey(event, source), async (key) => {
      if (!(await this.opts.state.get(key))) return
      await this.opts.state.set(key, undefined)
      await this.deliver(this.alert({ event, source, message }, 'resolve', key, this.opts.now()))
    })
  }

  /** Waits for every delivery started so far; returns their reports since the last flush. */
  async flush(): Promise<DeliveryReport[]> {
    while (this.pending.size > 0) await Promise.all(this.pending)
    const reports = this.reports
    this.reports = []
    return reports
  }

  private enqueue(key: string, work: (key: string) => Promise<void>): void {
    if (!this.enabled) return
    const task = (this.chains.get(key) ?? Promise.resolve())
      .then(() => work(key))
      .catch((err: unknown) => {
        // The state file could not be written: report it like a failed delivery, never throw into the caller.
        this.report({
          notifier: 'alert state',
          event: key.split(':')[0] as AlertEvent,
          source: key.slice(key.indexOf(':') + 1),
          action: 'trigger',
          ok: false,
          attempts: 0,
          error: (err as Error).message,
        })
      })
    this.chains.set(key, task)
    this.pending.add(task)
    void task.finally(() => {
      this.pending.delete(task)
      if (this.chains.get(key) === task) this.chains.delete(key)
    })
  }

  private alert(problem: Problem, action: Alert['action'], key: string, now: Date): Alert {
    const { event, source, message } = problem
    return { event, source, message, timestamp: now.toISOString(), severity: severities[event], action, dedupKey: key }
  }

  /** Sends to every route that wants the event; true when all of them took it. */
  private async deliver(alert: Alert): Promise<boolean> {
    const routes = this.routes.filter((r) => wants(r.events, alert.event))
    const results = await Promise.all(routes.map((r) => this.deliverOne(r.notifier, alert)))
    return results.every(Boolean)
  }

  private async deliverOne(notifier: Notifier, alert: Alert): Promise<boolean> {
    const { attempts, baseDelayMs, maxDelayMs } = this.opts
    let error: unknown
    let attempt = 0
    while (attempt < attempts) {
      attempt++
      try {
        await notifier.notify(alert)
        this.report(reportOf(notifier, alert, true, attempt))
        return true
      } catch (err) {
        error = err
        if (err instanceof DeliveryError && !err.retryable) break
        if (attempt < attempts) {
          const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
          await sleep(Math.round(cap / 2 + (Math.random() * cap) / 2))
        }
      }
    }
    this.report({ ...reportOf(notifier, alert, false, attempt), error: (error as Error).message })
    return false
  }

  private report(report: DeliveryReport): void {
    this.reports.push(report)
    this.opts.onDelivery?.(report)
  }
}

export function dedupKey(event: string, source: string): string {
  return `${event}:${source}`
}

function reportOf(notifier: Notifier, alert: Alert, ok: boolean, attempts: number): DeliveryReport {
  const { event, source, action } = alert
  return { notifier: `${notifier.kind} ${notifier.target}`, event, source, action, ok, attempts }
}
