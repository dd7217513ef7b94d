import { openContext } from '../../ops/context.js'
import type { Command } from '../command.js'
import { formatTable } from '../output.js'

const command: Command = {
  summary: 'list bookmarks',
  usage: 'drkit bookmarks [RESOURCE] [--json]',
  async run({ positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const resource = positionals[0]
      if (resource) ctx.resource(resource)
      const list = await (await ctx.repository()).listBookmarks(resource)
      const doc = { bookmarks: list.map((b) => ({ ...b, time: new Date(b.time).toISOString() })) }
      out.result(doc, (d) =>
        d.bookmarks.length === 0
          ? 'no bookmarks yet'
          : formatTable(
              ['resource', 'bookmark', 'time', 'generation', 'change'],
              d.bookmarks.map((b) => [b.resource, b.name, b.time, b.generation, String(b.seq)]),
            ),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
