import { runDrill } from '../drills/index.js'
import type { OpsContext } from '../ops/context.js'
import { recordDrillReport, selectDrills } from '../ops/drill.js'
import type { AgentEvent } from './agent.js'

/**
 * The agent's drills: the drills whose `every` makes them due, run one at a time in a
 * background task that the shipping loop starts and never waits for, so a drill taking
 * minutes never delays capture. A drill that fails (or cannot run) is an event, not the
 * end of the agent.
 */
export class DueDrills {
  private running: Promise<void> | undefined
  private lastLook = Number.NEGATIVE_INFINITY

  constructor(
    private readonly ctx: OpsContext,
    private readonly emit: (e: AgentEvent) => void,
    /** How often the agent looks for due drills while it runs. */
    private readonly lookEveryMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** Starts the due drills in the background when none is running and it is time to look. */
  poll(now: number): void {
    if (this.running || now - this.lastLook < this.lookEveryMs) return
    this.lastLook = now
    this.running = this.runDue().finally(() => {
      this.running = undefined
    })
  }

  /** Runs the due drills now, one after another, and returns when they are done. */
  async runNow(): Promise<void> {
    await this.running
    this.lastLook = Date.now()
    await this.runDue()
  }

  /** Waits for the drill under way (aborted with the agent's signal) to end. */
  async settle(): Promise<void> {
    await this.running
  }

  private async runDue(): Promise<void> {
    let due: Awaited<ReturnType<typeof selectDrills>>
    try {
      due = await selectDrills(this.ctx, { due: true })
    } catch (err) {
      // The repository cannot be read now: look again next time; capture goes on.
      this.emit({ event: 'check.failed', message: `looking for due drills failed: ${(err as Error).message}` })
      return
    }
    for (const drill of due) {
      if (this.signal?.aborted) return
      await this.runOne(drill.name)
    }
  }

  private async runOne(drill: string): Promise<void> {
    this.emit({ event: 'drill.started', drill, message: `drill ${drill} started` })
    try {
      // Recorded here, not by runDrill: a drill cut short by the agent stopping proves nothing either way.
      const report = await runDrill(this.ctx, drill, { record: false, ...(this.signal && { signal: this.signal }) })
      if (this.signal?.aborted) {
        this.emit({ event: 'drill.stopped', drill, message: `drill ${drill} stopped with the agent; not recorded` })
        return
      }
      await recordDrillReport(this.ctx, report)
      if (report.ok) this.emit({ event: 'drill.passed', drill, message: `drill ${drill} passed` })
      else this.emit({ event: 'drill.failed', drill, message: `drill ${drill} failed: ${report.reason}` })
    } catch (err) {
      // A drill that cannot run as written (or whose report cannot be stored) fails; it is tried again when next looked for.
      this.emit({ event: 'drill.failed', drill, message: `drill ${drill} could not run: ${(err as Error).message}` })
    }
  }
}
