import { runShell } from './shell.js'
import { minutes, type Step } from './step.js'

/** Runs a shell command in the plan's folder, with DRKIT_TARGET_<RESOURCE> set for each restored target. */
export const execStep: Step<'exec'> = {
  kind: 'exec',
  defaultTimeoutMs: () => minutes(5),
  title: (spec) => spec.command,
  async run(spec, ctx) {
    const output = await runShell(spec.command, { cwd: ctx.run.ctx.plan.baseDir, env: ctx.env, signal: ctx.signal })
    return output || undefined
  },
}
