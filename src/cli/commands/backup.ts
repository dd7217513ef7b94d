import { backup } from '../../ops/backup.js'
import { openContext } from '../../ops/context.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { durationFlag } from '../flags.js'
import { formatBytes, formatMs, formatTable } from '../output.js'

const command: Command = {
  summary: 'take snapshots now (every resource, or those named)',
  usage: 'drkit backup [RESOURCE...] [--wait DURATION] [--read-all] [--json]',
  help:
    'A second backup of the same resource fails at once, naming the holder, unless --wait gives it time.\n' +
    'A files resource reads only the files whose size, mtime, ctime or inode changed since its last\n' +
    'snapshot; --read-all reads every file again.',
  options: { wait: { type: 'string' }, 'read-all': { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const names = positionals.length > 0 ? positionals : Object.keys(ctx.plan.resources)
      for (const name of names) ctx.resource(name)
      const waitMs = durationFlag('wait', values.wait) ?? 0
      const results = []
      for (const name of names) {
        out.info(`backing up ${name}…`)
        const { snapshot } = await backup(ctx, name, { waitMs, readAll: values['read-all'] === true })
        results.push({
          resource: name,
          id: snapshot.id,
          time: snapshot.time,
          size: snapshot.stats.size,
          newBytes: snapshot.stats.newBytes,
          storedBytes: snapshot.stats.storedBytes,
          durationMs: snapshot.stats.durationMs,
          tables: snapshot.tables,
        })
      }
      out.result({ snapshots: results }, (doc) =>
        formatTable(
          ['resource', 'snapshot', 'size', 'new', 'stored', 'duration'],
          doc.snapshots.map((s) => [
            s.resource,
            shortId(s.id),
            formatBytes(s.size),
            formatBytes(s.newBytes),
            formatBytes(s.storedBytes),
            formatMs(s.durationMs),
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
