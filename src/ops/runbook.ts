import { relative } from 'node:path'
import { renderRunbook } from '../report/index.js'
import type { OpsContext } from './context.js'
import { defaultConfigFile } from './context.js'

/**
 * The recovery runbook for the context's plan, as markdown. `hasCommand` says which CLI
 * commands exist, so that the runbook names only commands this drkit has.
 */
export function runbook(ctx: OpsContext, opts: { hasCommand: (name: string) => boolean; now?: Date }): string {
  const file = ctx.plan.file
  // Commands run from the plan's folder; --config only when the plan has another name.
  const name = file ? relative(ctx.plan.baseDir, file) : defaultConfigFile
  return renderRunbook(ctx.plan, {
    hasCommand: opts.hasCommand,
    config: name === defaultConfigFile ? undefined : name,
    generated: opts.now ?? new Date(),
  })
}
