import { resolve } from 'node:path'
import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { restore } from '../../ops/restore.js'
import { shortId } from '../../repository/index.js'
import { parseMoment } from '../../timeline/moment.js'
import type { Command } from '../command.js'
import { requiredPositional, stringFlag } from '../flags.js'
import { formatBytes, formatMs } from '../output.js'

const usage = 'drkit restore RESOURCE --to TARGET [--snapshot ID | --at TIME | --bookmark NAME] [--force] [--json]'

const command: Command = {
  summary: 'restore a resource into a new target',
  usage,
  help:
    'TARGET is a new file for SQLite. An existing target is refused unless --force; it is then replaced atomically.\n' +
    'TIME is ISO 8601 (2026-02-27T10:00:00Z) or relative (-15m): the state of the last transaction committed by then.',
  options: {
    to: { type: 'string' },
    snapshot: { type: 'string' },
    at: { type: 'string' },
    bookmark: { type: 'string' },
    force: { type: 'boolean' },
  },
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
        at: typeof values.at === 'string' ? parseMoment(values.at) : undefined,
        bookmark: stringFlag(values.bookmark),
        force: values.force === true,
      })
      const doc = {
        resource,
        snapshot: result.snapshot.id,
        target: result.target,
        bytes: result.bytes,
        time: result.time,
        changes: result.changes,
        exact: result.exact,
        durationMs: result.durationMs,
      }
      out.result(
        doc,
        (d) =>
          `restored ${d.resource} as of ${d.time} into ${d.target}: snapshot ${shortId(d.snapshot)}` +
          `${d.changes > 0 ? ` and ${d.changes} changes` : ''} (${formatBytes(d.bytes)} in ${formatMs(d.durationMs)})` +
          (d.exact
            ? ''
            : '\nno changes are captured for this resource: this is its newest snapshot before that moment'),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
