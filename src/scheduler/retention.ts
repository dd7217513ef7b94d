import { Cron } from 'croner'
import type { OpsContext } from '../ops/context.js'
import { forget } from '../ops/forget.js'
import type { AgentEvent } from './agent.js'

/** What a retention evidence record holds: which resources, and what forget removed. */
export interface RetentionEvidence {
  resources: string[]
  snapshotsForgotten: number
  segmentsForgotten: number
  packsRemoved: number
  bytesRemoved: number
  durationMs: number
  error?: string
}

/**
 * The agent's retention: for each resource whose `retention.schedule` has a run due, it
 * applies the policy (forget, then prune the whole repository) in a background task that
 * the shipping loop starts and never waits for. That is safe beside the agent's own work:
 * capture shippers go on under the prune lock, and the agent's scheduled backups wait for
 * the short delete phase (as a backup started by hand does). Each run is recorded as
 * `retention` evidence, so a run is due when a scheduled time passed since the last record,
 * also for `drkit agent --once` started from cron.
 */
export class ScheduledRetention {
  private running: Promise<void> | undefined
  private readonly schedules: { resource: string; cron: Cron }[]
  private lastLook = Number.NEGATIVE_INFINITY
  /** When each resource's retention last ran, from the evidence (read once, then kept up to date). */
  private lastRun: Map<string, number> | undefined

  constructor(
    private readonly ctx: OpsContext,
    private readonly emit: (e: AgentEvent) => void,
    /** How often the agent looks for due runs while it runs. */
    private readonly lookEveryMs: number,
  ) {
    this.schedules = Object.values(ctx.plan.resources)
      .filter((r) => r.retention?.schedule)
      .map((r) => ({ resource: r.name, cron: new Cron(r.retention!.schedule!, { paused: true, timezone: 'UTC' }) }))
  }

  get enabled(): boolean {
    return this.schedules.length > 0
  }

  /** Starts the due runs in the background when none is under way and it is time to look. */
  poll(now: number): void {
    if (this.running || now - this.lastLook < this.lookEveryMs) return
    this.lastLook = now
    this.running = this.runDue(new Date(now)).finally(() => {
      this.running = undefined
    })
  }

  /** Applies the retention that is due now, and returns when it is done. */
  async runNow(): Promise<void> {
    await this.running
    this.lastLook = Date.now()
    await this.runDue(new Date())
  }

  /** Waits for the run under way to end. */
  async settle(): Promise<void> {
    await this.running
  }

  private async runDue(now: Date): Promise<void> {
    let due: string[]
    try {
      due = await this.dueResources(now)
    } catch (err) {
      // The repository cannot be read now: look again next time; capture goes on.
      this.emit({ event: 'check.failed', message: `looking for due retention failed: ${(err as Error).message}` })
      return
    }
    if (due.length === 0) return
    const started = performance.now()
    const repository = await this.ctx.repository()
    const record = (ok: boolean, body: RetentionEvidence) =>
      repository.writeEvidence({ kind: 'retention', time: new Date().toISOString(), ok, body })
    try {
      const result = await forget(this.ctx, { resources: due })
      const body: RetentionEvidence = {
        resources: due,
        snapshotsForgotten: result.resources.reduce((n, r) => n + r.snapshots.filter((s) => !s.keep).length, 0),
        segmentsForgotten: result.resources.reduce((n, r) => n + r.segmentsForgotten, 0),
        packsRemoved: result.prune.packs.deleted + result.prune.packs.repacked + result.prune.packs.leftovers,
        bytesRemoved: result.prune.bytes.removed,
        durationMs: result.durationMs,
      }
      for (const resource of due) this.lastRun!.set(resource, Date.now())
      await record(true, body)
      this.emit({
        event: 'retention.applied',
        message:
          `retention of ${due.join(', ')}: ${body.snapshotsForgotten} snapshots and ` +
          `${body.segmentsForgotten} segments forgotten, ${body.packsRemoved} packs removed`,
      })
    } catch (err) {
      const message = (err as Error).message
      // Recorded too, so that a failing run is retried at the next scheduled time, not in a loop.
      const durationMs = Math.round(performance.now() - started)
      for (const resource of due) this.lastRun!.set(resource, Date.now())
      await record(false, { resources: due, ...nothing, durationMs, error: message }).catch(() => undefined)
      this.emit({ event: 'retention.failed', message: `retention of ${due.join(', ')} failed: ${message}` })
    }
  }

  /** The resources whose schedule had a run since their last recorded retention (or that never had one). */
  private async dueResources(now: Date): Promise<string[]> {
    if (!this.lastRun) {
      const lastRun = new Map<string, number>()
      for (const r of await (await this.ctx.repository()).listEvidence<RetentionEvidence>('retention')) {
        for (const resource of r.body.resources) lastRun.set(resource, Date.parse(r.time))
      }
      this.lastRun = lastRun
    }
    const lastRun = this.lastRun
    return this.schedules
      .filter(({ resource, cron }) => {
        const last = lastRun.get(resource)
        if (last === undefined) return true
        const next = cron.nextRun(new Date(last))
        return next !== null && next.getTime() <= now.getTime()
      })
      .map((s) => s.resource)
  }
}

const nothing = { snapshotsForgotten: 0, segmentsForgotten: 0, packsRemoved: 0, bytesRemoved: 0 }
