import { resolve } from 'node:path'
import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { restore } from '../../ops/restore.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { requiredPositional, stringFlag } from '../flags.js'
import { formatBytes, formatMs } from '../output.js'

const usage = 'drkit restore RESOURCE --to TARGET [--snapshot ID] [--force] [--json]'

const command: Command = {
  summary: 'restore a resource into a new target',
  usage,
  help: 'TARGET is a new file for SQLite. An existing target is refused unless --force; it is then replaced atomically.',
  options: { to: { type: 'string' }, snapshot: { type: 'string' }, force: { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const resource = requiredPositional(positionals, 'RESOURCE', usage)
    const target = stringFlag(values.to)
    if (!target) throw new PlanError('missing --to TARGET: where to restore', `Usage: ${usage}`)
    const ctx = await openContext({ config })
    try {
      out.info(`restoring ${resource} into ${target}…`)
      const result = await restore(ctx, {
        resource,
        target: resolve(target),
        snapshot: stringFlag(values.snapshot),
        force: values.force === true,
      })
      const doc = {
        resource,
        snapshot: result.snapshot.id,
        target: result.target,
        bytes: result.bytes,
        durationMs: result.durationMs,
      }
      out.result(
        doc,
        (d) =>
          `restored ${d.resource} snapshot ${shortId(d.snapshot)} into ${d.target} ` +
          `(${formatBytes(d.bytes)} in ${formatMs(d.durationMs)})`,
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
