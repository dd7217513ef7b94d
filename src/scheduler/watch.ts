import type { AlertDispatcher } from '../alerts/index.js'
import type { OpsContext } from '../ops/context.js'
import { status } from '../ops/status.js'
import type { AgentEvent } from './agent.js'

/** The problems a check raises while they last and resolves when they are gone. */
const resourceEvents = ['rpo.breached', 'verify.failed'] as const
const drillEvents = ['drill.failed', 'drill.overdue'] as const

/**
 * The agent's alerting: turns its events into alerts (a failed scheduled snapshot, a
 * capture gap, a failed drill) and runs periodic checks of the objectives (the newest recoverable point
 * against the RPO, the last verification and drill, overdue drills), raising each problem
 * while it lasts and resolving it when it is gone. It never waits for a delivery.
 */
export class Watch {
  private lastCheck = Number.NEGATIVE_INFINITY

  constructor(
    private readonly ctx: OpsContext,
    private readonly alerts: AlertDispatcher,
    readonly checkEveryMs: number,
  ) {}

  onEvent(e: AgentEvent): void {
    if (e.drill && e.event === 'drill.failed')
      this.alerts.raise({ event: 'drill.failed', source: e.drill, message: e.message })
    if (e.drill && e.event === 'drill.passed') this.alerts.resolve('drill.failed', e.drill, e.message)
    if (!e.resource) return
    if (e.event === 'snapshot.failed')
      this.alerts.raise({ event: 'backup.failed', source: e.resource, message: e.message })
    if (e.event === 'snapshot.taken') this.alerts.resolve('backup.failed', e.resource, e.message)
    if (e.event === 'capture.gap')
      this.alerts.raise({ event: 'capture.gap', source: e.resource, message: e.message, oneOff: true })
  }

  isDue(now: number): boolean {
    return now - this.lastCheck >= this.checkEveryMs
  }

  /** Checks the objectives now; returns the number of problems that raise alerts. */
  async check(now = new Date()): Promise<number> {
    this.lastCheck = now.getTime()
    const report = await status(this.ctx, { now })
    const raised = new Set<string>()
    for (const p of report.problems) {
      if (!p.event) continue
      raised.add(`${p.event}:${p.source}`)
      this.alerts.raise({ event: p.event, source: p.source, message: p.message })
    }
    const clear = (event: (typeof resourceEvents)[number] | (typeof drillEvents)[number], source: string) => {
      if (!raised.has(`${event}:${source}`)) this.alerts.resolve(event, source, `${event} for ${source} is over`)
    }
    for (const r of report.resources) for (const event of resourceEvents) clear(event, r.resource)
    for (const d of report.drills) for (const event of drillEvents) clear(event, d.name)
    return raised.size
  }
}
