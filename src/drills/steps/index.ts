/**
 * Drill steps: one file per kind, one line below. The custom and full-recovery scenarios
 * run the plan's steps through `runSteps`, each under its time-out.
 */
import type { DrillStep } from '../../plan/index.js'
import { assertStep } from './assert.js'
import { bookmarkStep } from './bookmark.js'
import { execStep } from './exec.js'
import { faultStep } from './fault.js'
import { httpStep } from './http.js'
import { restoreStep } from './restore.js'
import { sqlStep } from './sql.js'
import type { Step, StepContext } from './step.js'
import { waitStep } from './wait.js'

export const steps = {
  sql: sqlStep,
  exec: execStep,
  http: httpStep,
  fault: faultStep,
  restore: restoreStep,
  bookmark: bookmarkStep,
  assert: assertStep,
  wait: waitStep,
} satisfies { [K in DrillStep['kind']]: Step<K> }

export type { StepContext } from './step.js'

/** Runs the plan's steps in order; the first failure stops them (StepFailedError). */
export async function runSteps(list: DrillStep[], ctx: Omit<StepContext, 'signal'>): Promise<void> {
  for (const spec of list) {
    const step = steps[spec.kind] as Step<DrillStep['kind']>
    await ctx.run.step(spec.kind, step.title(spec as never), (signal) => step.run(spec as never, { ...ctx, signal }), {
      timeoutMs: spec.timeoutMs ?? step.defaultTimeoutMs(spec as never),
      detail: (d) => d,
    })
  }
}
