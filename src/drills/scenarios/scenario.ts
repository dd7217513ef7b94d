import type { OpsContext } from '../../ops/context.js'
import type { Drill } from '../../plan/index.js'
import type { DrillRun } from '../run.js'

/** A built-in drill kind. */
export interface Scenario {
  /** PlanError when the drill cannot run as written (unknown resource, a kind its type cannot do); checked before anything is touched. */
  check(drill: Drill, ctx: OpsContext): Promise<void>
  /** Plays the scenario through `run.step`; a failed step throws StepFailedError and ends it. */
  run(run: DrillRun): Promise<void>
}
