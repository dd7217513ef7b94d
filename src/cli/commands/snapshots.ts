import { openContext } from '../../ops/context.js'
import { listSnapshots } from '../../ops/snapshots.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { formatBytes, formatTable } from '../output.js'

const command: Command = {
  summary: 'list snapshots',
  usage: 'drkit snapshots [RESOURCE] [--json]',
  async run({ positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const snapshots = await listSnapshots(ctx, positionals[0])
      const doc = {
        snapshots: snapshots.map((s) => ({
          id: s.id,
          resource: s.resource,
          time: s.time,
          size: s.stats.size,
          newBytes: s.stats.newBytes,
          tables: s.tables,
        })),
      }
      out.result(doc, (d) =>
        d.snapshots.length === 0
          ? 'no snapshots yet'
          : formatTable(
              ['snapshot', 'resource', 'time', 'size', 'new', 'tables'],
              d.snapshots.map((s) => [
                shortId(s.id),
                s.resource,
                s.time,
                formatBytes(s.size),
                formatBytes(s.newBytes),
                s.tables.map((t) => `${t.name}:${t.rows}`).join(' '),
              ]),
            ),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
