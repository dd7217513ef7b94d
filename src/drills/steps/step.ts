import { PlanError } from '../../errors.js'
import type { DrillStep, StepKind } from '../../plan/index.js'
import type { Fingerprint } from '../../sources/index.js'
import type { DrillRun } from '../run.js'
import type { WorkingCopy } from '../working-copy.js'

/** What a step runs with. */
export interface StepContext {
  run: DrillRun
  /** The working copy of the drill's resource; absent when the drill names none. */
  copy?: WorkingCopy
  /** Fingerprints of the copy recorded by name: `before-fault`, and each bookmark step's name. */
  recorded: Map<string, Fingerprint>
  /** Extra environment for commands: DRKIT_TARGET_<RESOURCE> for each restored target. */
  env: Record<string, string>
  signal: AbortSignal
}

/**
 * One kind of drill step. `run` resolves with what it did (for the report) or throws
 * a DrkitError saying what did not hold; it stops when `signal` aborts where it can.
 */
export interface Step<K extends StepKind> {
  readonly kind: K
  /** How long the step may take when the plan gives no `timeout`. */
  defaultTimeoutMs(spec: Extract<DrillStep, { kind: K }>): number
  title(spec: Extract<DrillStep, { kind: K }>): string
  run(spec: Extract<DrillStep, { kind: K }>, ctx: StepContext): Promise<string | undefined>
}

/** The working copy, or a PlanError saying that this step needs the drill to name a resource. */
export function requireCopy(ctx: StepContext, kind: string): WorkingCopy {
  if (!ctx.copy) {
    throw new PlanError(`drill "${ctx.run.drill.name}": a ${kind} step needs the drill to name a resource`)
  }
  return ctx.copy
}

export const minutes = (n: number) => n * 60_000
