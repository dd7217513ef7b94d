import { PlanError } from '../../errors.js'
import { removeCapture } from '../../ops/capture.js'
import { openContext } from '../../ops/context.js'
import type { Command } from '../command.js'

const usage = 'drkit capture remove RESOURCE [--json]'

const command: Command = {
  summary: "manage drkit's change capture in a resource",
  usage,
  help: 'remove: ships what is captured, then takes the triggers and the changelog out of the database.',
  async run({ positionals }, { out, config }) {
    const [action, resource, extra] = positionals
    if (action !== 'remove' || !resource || extra)
      throw new PlanError('usage: capture remove RESOURCE', `Usage: ${usage}`)
    const ctx = await openContext({ config })
    try {
      const removed = await removeCapture(ctx, resource)
      out.result({ resource, removed }, (d) =>
        d.removed
          ? `capture removed from ${d.resource}`
          : `capture was not installed in ${d.resource}; nothing changed`,
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
