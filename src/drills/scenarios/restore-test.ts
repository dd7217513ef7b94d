import { scratchFactory } from '../../ops/scratch/index.js'
import type { Scenario } from './scenario.js'
import { drillResource, measureAgainstLive, recoverLatest } from './shared.js'

/**
 * The resource is lost: restore its newest recoverable state from the repository, check
 * it against the backup (RTO: from the start of the restore to the verified copy), and
 * compare it with the live resource (RPO: what was not yet backed up).
 */
export const restoreTestScenario: Scenario = {
  async check(drill, ctx) {
    scratchFactory(drillResource(drill, ctx))
  },
  async run(run) {
    run.markFault()
    const recovered = await recoverLatest(run, run.drill.resource!)
    run.markRecovered()
    await measureAgainstLive(run, [recovered])
  },
}
