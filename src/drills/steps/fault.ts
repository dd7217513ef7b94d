import { after } from '../run.js'
import { runShell } from './shell.js'
import { minutes, requireCopy, type Step } from './step.js'

/**
 * Injects the fault: RTO runs from here. Before the first fault, the working copy's
 * fingerprint is recorded as `before-fault` (what recovery must give back) and, when the
 * copy has capture, its position is bookmarked so `restore: { at: before-fault }` is exact.
 */
export const faultStep: Step<'fault'> = {
  kind: 'fault',
  defaultTimeoutMs: () => minutes(5),
  title: (spec) => spec.sql ?? spec.exec ?? '',
  async run(spec, ctx) {
    const { run, copy } = ctx
    if (!run.fault && copy) {
      ctx.recorded.set('before-fault', await copy.fingerprint())
      if (copy.captured) {
        await copy.bookmark('before-fault')
        await after((await copy.position()).time)
      }
    }
    run.markFault()
    if (spec.sql !== undefined) {
      await requireCopy(ctx, 'fault: { sql }').query(spec.sql)
      return 'injected into the working copy'
    }
    const output = await runShell(spec.exec!, { cwd: run.ctx.plan.baseDir, env: ctx.env, signal: ctx.signal })
    return output || undefined
  },
}
