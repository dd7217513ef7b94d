import { DrkitError } from '../errors.js'
import type { OpsContext } from '../ops/context.js'
import type { DataLoss } from '../ops/restore-test.js'
import type { Drill } from '../plan/index.js'
import type { DrillStepReport } from './report.js'

/** A step that failed or timed out: the scenario stops, the report says why. */
export class StepFailedError extends DrkitError {
  override readonly code = 'drill-step'
}

export interface StepOptions<T> {
  /** Never a hang: the step is abandoned (and its signal aborted) after this long. */
  timeoutMs: number
  /** What the step did, from its result. */
  detail?: (value: T) => string | undefined
}

/**
 * One run of one drill: records each step with its timing and outcome, the moments the
 * fault was injected and the recovery verified, the data the recovery lost, and what to
 * clean up afterwards. Scenarios drive it; the runner turns it into a DrillReport.
 */
export class DrillRun {
  readonly steps: DrillStepReport[] = []
  readonly issues: string[] = []
  /** The targets restored into, by label. */
  readonly targets: Record<string, string> = {}
  fault?: { wall: number; at: number }
  recovered?: { wall: number; at: number }
  loss?: DataLoss & { recoveredPoint?: string }
  private readonly cleanups: (() => Promise<unknown>)[] = []

  constructor(
    readonly ctx: OpsContext,
    readonly drill: Drill,
    /** A private folder for the run's scratch files. */
    readonly dir: string,
    readonly signal: AbortSignal | undefined,
    private readonly onStep: (step: DrillStepReport) => void,
  ) {}

  /** Runs one step under its time-out and records it; a failure is recorded, then thrown as StepFailedError. */
  async step<T>(
    kind: string,
    title: string,
    fn: (signal: AbortSignal) => Promise<T>,
    opts: StepOptions<T>,
  ): Promise<T> {
    const started = new Date()
    const t0 = performance.now()
    const record = (ok: boolean, fields: { detail?: string; error?: string }) => {
      const step: DrillStepReport = {
        n: this.steps.length + 1,
        kind,
        title,
        ok,
        started: started.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        ...withoutUndefined(fields),
      }
      this.steps.push(step)
      this.onStep(step)
      return step
    }
    try {
      this.signal?.throwIfAborted()
      const value = await withTimeout(opts.timeoutMs, fn, this.signal)
      record(true, { detail: opts.detail?.(value) })
      return value
    } catch (err) {
      const message = (err as Error).message
      const step = record(false, { error: message })
      this.failed = true
      this.issues.push(`step ${step.n} (${kind}: ${title}) failed: ${message}`)
      throw new StepFailedError(message, undefined, { cause: err })
    }
  }

  /** Set when a step failed or the scenario could not go on. */
  failed = false

  /** The fault is injected now (or was, at `since`): RTO runs from here. Only the first fault counts. */
  markFault(since?: { wall: number; at: number }): void {
    this.fault ??= since ?? { wall: Date.now(), at: performance.now() }
  }

  /** The recovered state is verified now: RTO runs to here. */
  markRecovered(): void {
    this.recovered = { wall: Date.now(), at: performance.now() }
  }

  /** Runs fn after the drill, last registered first, whatever happened. */
  onCleanup(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn)
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn()
      } catch (err) {
        this.issues.push(`cleaning up after the drill failed: ${(err as Error).message}`)
      }
    }
  }
}

/**
 * Runs fn with a signal that aborts after `ms` (or when `outer` aborts), and gives up
 * waiting for it then: work that cannot be interrupted is left to finish in the background.
 */
export async function withTimeout<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const stop = () => controller.abort(outer?.reason)
  outer?.addEventListener('abort', stop, { once: true })
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DrkitError(
        `timed out after ${formatSeconds(ms)}`,
        'Raise the step’s `timeout` if it needs longer.',
      )
      controller.abort(error)
      reject(error)
    }, ms)
  })
  try {
    return await Promise.race([fn(controller.signal), expired])
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', stop)
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

/** Resolves once the wall clock has passed `moment` (ms): what happens next is strictly later than it. */
export async function after(moment: number): Promise<void> {
  while (Date.now() <= moment) await new Promise((resolve) => setTimeout(resolve, 1))
}
