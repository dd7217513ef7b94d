import { PlanError } from '../../errors.js'
import { compareFingerprints } from '../../ops/restore-test.js'
import { requireCopy, type Step } from './step.js'

/**
 * Recovers the working copy: from the repository's newest recoverable state (the
 * default), or from the copy's own timeline at a bookmark or just before the fault. The
 * first restore after a fault measures the data lost against the `before-fault` state.
 */
export const restoreStep: Step<'restore'> = {
  kind: 'restore',
  defaultTimeoutMs: () => 3_600_000,
  title: (spec) =>
    spec.bookmark !== undefined
      ? `restore to bookmark ${spec.bookmark}`
      : spec.at === 'before-fault'
        ? 'restore to the moment before the fault'
        : 'restore the newest recoverable state from the repository',
  async run(spec, ctx) {
    const copy = requireCopy(ctx, 'restore')
    const bookmark = spec.at === 'before-fault' ? 'before-fault' : spec.bookmark
    if (bookmark !== undefined && !copy.captured) {
      throw new PlanError(
        `drill "${ctx.run.drill.name}": restoring to ${bookmark} needs capture on the working copy`,
        'Give the drill a bookmark step, or restore the newest state with `restore: {}`.',
      )
    }
    const result =
      bookmark !== undefined ? await copy.restorePoint({ bookmark }, ctx.signal) : await copy.restoreLatest(ctx.signal)
    const before = ctx.recorded.get('before-fault')
    const fault = ctx.run.fault
    if (before && fault && !ctx.run.loss) {
      const loss = compareFingerprints(before, await copy.fingerprint(), fault.wall - Date.parse(result.time))
      ctx.run.loss = { ...loss, recoveredPoint: result.time }
    }
    return `state of ${result.time} into ${copy.target.target} (${result.changes} changes replayed)`
  },
}
