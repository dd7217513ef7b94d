import { DrkitError, PlanError } from '../../errors.js'
import { compareFingerprints } from '../../ops/restore-test.js'
import { scratchFactory } from '../../ops/scratch/index.js'
import type { Scenario } from './scenario.js'
import { describeLoss, drillResource, hour, measureAgainstLive, minutes, recoverLatest } from './shared.js'

/**
 * A key-value store or a file tree is wiped: the copy restored from the repository is
 * wiped (every key, every file), restored again and compared with its state before;
 * then with the live resource for the RPO.
 */
export const kvRestoreScenario: Scenario = {
  async check(drill, ctx) {
    const resource = drillResource(drill, ctx)
    if (scratchFactory(resource).sql) {
      throw new PlanError(
        `drill "${drill.name}": kv-restore is for key-value and file resources, and ${resource.name} is of type ${resource.type}`,
        'Use kind restore-test, pitr or corruption-undo for it.',
      )
    }
  },
  async run(run) {
    const recovered = await recoverLatest(run, run.drill.resource!)
    const { copy } = recovered
    await run.step(
      'fault',
      `wipe the copy: every ${copy.resource.type === 'files' ? 'file' : 'key'} is gone`,
      async () => {
        run.markFault()
        await copy.target.wipe()
      },
      { timeoutMs: minutes(5) },
    )
    const restored = await run.step(
      'restore',
      'restore the newest snapshot into the wiped copy',
      (signal) => copy.restoreLatest(signal),
      {
        timeoutMs: hour,
        detail: (r) => `state of ${r.time}`,
      },
    )
    await run.step(
      'verify',
      'the copy equals its state before the wipe',
      async () => {
        const fingerprint = await copy.fingerprint()
        const diff = compareFingerprints(recovered.fingerprint, fingerprint, 0)
        if (diff.changes > 0) throw new DrkitError(`the restored copy differs: ${describeLoss(diff)}`)
        run.markRecovered()
        recovered.fingerprint = fingerprint
        recovered.restored = restored
      },
      { timeoutMs: hour },
    )
    await measureAgainstLive(run, [recovered])
  },
}
