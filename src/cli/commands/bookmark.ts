import { PlanError } from '../../errors.js'
import { bookmark } from '../../ops/bookmark.js'
import { openContext } from '../../ops/context.js'
import type { Command } from '../command.js'

const usage = 'drkit bookmark RESOURCE NAME [--json]'

const command: Command = {
  summary: 'name the current position of a resource, once everything up to it is shipped',
  usage,
  async run({ positionals }, { out, config }) {
    const [resource, name, extra] = positionals
    if (!resource || !name || extra) throw new PlanError('bookmark takes a resource and a name', `Usage: ${usage}`)
    const ctx = await openContext({ config })
    try {
      const b = await bookmark(ctx, resource, name)
      const doc = { ...b, time: new Date(b.time).toISOString() }
      out.result(
        doc,
        (d) => `bookmark ${d.name} of ${d.resource}: ${d.time} (generation ${d.generation}, change ${d.seq})`,
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
