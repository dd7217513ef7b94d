import { PlanError } from '../../errors.js'
import type { OpsContext } from '../../ops/context.js'
import { scratchFactory } from '../../ops/scratch/index.js'
import type { Drill, DrillStep } from '../../plan/index.js'
import type { Fingerprint } from '../../sources/index.js'
import { runSteps } from '../steps/index.js'
import type { Scenario } from './scenario.js'
import { drillResource, hour, recoverLatest, requireCapture } from './shared.js'

/** Steps that work on the copy of the drill's resource, with what they need of it. */
const needsSql = (s: DrillStep) =>
  s.kind === 'sql' || (s.kind === 'fault' && s.sql !== undefined) || (s.kind === 'assert' && s.sql !== undefined)
const needsCopy = (s: DrillStep) =>
  needsSql(s) || s.kind === 'restore' || s.kind === 'bookmark' || (s.kind === 'assert' && s.fingerprint !== undefined)
const needsCapture = (s: DrillStep) =>
  s.kind === 'bookmark' || (s.kind === 'restore' && (s.bookmark !== undefined || s.at === 'before-fault'))

/** The plan's steps, checked against what the drill's resource can do. */
export async function checkSteps(drill: Drill, ctx: OpsContext): Promise<void> {
  const problem = (i: number, what: string) =>
    new PlanError(`drill "${drill.name}", step ${i + 1} (${drill.steps[i]!.kind}): ${what}`)
  const resource = drill.resource === undefined ? undefined : drillResource(drill, ctx)
  for (const [i, step] of drill.steps.entries()) {
    if (!resource) {
      if (needsCopy(step)) throw problem(i, 'works on a copy of a resource, and the drill names none (add `resource:`)')
      continue
    }
    if (needsSql(step) && !scratchFactory(resource).sql)
      throw problem(i, `${resource.name} is of type ${resource.type}, which does not run SQL`)
    if (needsCapture(step)) await requireCapture(drill, ctx, resource)
  }
}

/**
 * The plan's own scenario. With a resource, its newest recoverable state is restored into
 * a working copy first (given capture of its own when a step bookmarks or restores to a
 * moment); then the steps run in order. RTO runs from the first fault step (or the first
 * step) to the end of the last; RPO is measured by the first restore after a fault.
 */
export const customScenario: Scenario = {
  check: checkSteps,
  async run(run) {
    const { drill } = run
    const env: Record<string, string> = {}
    const copy = drill.resource === undefined ? undefined : (await recoverLatest(run, drill.resource)).copy
    if (copy) {
      env[targetVariable(copy.resource.name)] = copy.target.target
      if (drill.steps.some(needsCapture))
        await run.step(
          'prepare',
          'install capture in the copy, shipping to a scratch repository',
          () => copy.enableCapture(),
          {
            timeoutMs: hour,
          },
        )
    }
    const start = { wall: Date.now(), at: performance.now() }
    await runSteps(drill.steps, { run, copy, recorded: new Map<string, Fingerprint>(), env })
    run.markFault(start)
    run.markRecovered()
  },
}

/** DRKIT_TARGET_APP_DB for app-db: where a command finds the restored copy. */
export function targetVariable(resource: string): string {
  return `DRKIT_TARGET_${resource.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
}
