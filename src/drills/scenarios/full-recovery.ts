import { PlanError } from '../../errors.js'
import { scratchFactory } from '../../ops/scratch/index.js'
import type { Drill } from '../../plan/index.js'
import type { Fingerprint } from '../../sources/index.js'
import { runSteps } from '../steps/index.js'
import { checkSteps, targetVariable } from './custom.js'
import type { Scenario } from './scenario.js'
import { measureAgainstLive, type Recovered, recoverLatest } from './shared.js'

/** The resources a full recovery brings back: the drill's `resources`, else every resource of the plan. */
export function recoveredResources(drill: Drill, names: string[]): string[] {
  return drill.resources ?? names
}

/**
 * Everything is lost: every resource is restored into a fresh scratch target and checked
 * against its backup, then the drill's steps run as health checks (commands find each
 * target in DRKIT_TARGET_<RESOURCE>). RTO runs from the start to the last passing check;
 * RPO is the largest window any resource would lose against its live state.
 */
export const fullRecoveryScenario: Scenario = {
  async check(drill, ctx) {
    const names = recoveredResources(drill, Object.keys(ctx.plan.resources))
    if (names.length === 0) throw new PlanError(`drill "${drill.name}": the plan has no resources to recover`)
    for (const name of names) scratchFactory(ctx.resource(name))
    await checkSteps(drill, ctx)
  },
  async run(run) {
    run.markFault()
    const recovered: Recovered[] = []
    const env: Record<string, string> = {}
    for (const name of recoveredResources(run.drill, Object.keys(run.ctx.plan.resources))) {
      const r = await recoverLatest(run, name)
      recovered.push(r)
      env[targetVariable(name)] = r.copy.target.target
    }
    const copy = recovered.find((r) => r.copy.resource.name === run.drill.resource)?.copy
    await runSteps(run.drill.steps, { run, copy, recorded: new Map<string, Fingerprint>(), env })
    run.markRecovered()
    await measureAgainstLive(run, recovered)
  },
}
