import { openContext } from '../../ops/context.js'
import { runbook } from '../../ops/runbook.js'
import type { Command } from '../command.js'

const command: Command = {
  summary: 'the recovery runbook for this plan, as markdown',
  usage: 'drkit runbook [--json] > RUNBOOK.md',
  help:
    'Per resource, the exact commands to list recovery points, restore to a moment into a scratch target, verify,\n' +
    'swap in and undo a window; the objectives, the drill schedule, the contacts and a post-incident checklist.\n' +
    'Generated from the plan, so it is never stale: regenerate it whenever the plan changes.\n' +
    'With --json: { "markdown": "..." }.',
  async run(_args, { out, config }) {
    const ctx = await openContext({ config })
    try {
      // Imported here: main.ts imports every command lazily, so a static import would be circular.
      const { commandNames } = await import('../main.js')
      const markdown = runbook(ctx, { hasCommand: (name) => commandNames.includes(name) })
      out.result({ markdown }, (doc) => doc.markdown.trimEnd())
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
