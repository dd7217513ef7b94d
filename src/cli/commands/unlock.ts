import { openContext } from '../../ops/context.js'
import { unlock } from '../../ops/unlock.js'
import type { Command } from '../command.js'

const command: Command = {
  summary: 'remove stale locks (dead process or old heartbeat)',
  usage: 'drkit unlock [--remove-all] [--json]',
  help:
    'Removes the locks whose process is gone (same host) or whose heartbeat is older than five minutes,\n' +
    'and lists the live ones it left. --remove-all removes every lock, live ones included: only when\n' +
    'you know no other drkit is running against this repository.',
  options: { 'remove-all': { type: 'boolean' } },
  async run({ values }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const result = await unlock(ctx, { all: values['remove-all'] === true })
      out.result(result, (r) => {
        const line = (l: (typeof r.removed)[number]) =>
          `  ${l.kind} lock on ${l.resource === '*' ? 'the repository' : l.resource} by "drkit ${l.command}" ` +
          `(pid ${l.pid} on ${l.host}, since ${l.created}${l.stale ? ', stale' : ''})`
        return [
          r.removed.length === 0 ? 'no lock removed' : `removed ${r.removed.length} lock(s):`,
          ...r.removed.map(line),
          ...(r.kept.length > 0 ? [`kept ${r.kept.length} live lock(s):`, ...r.kept.map(line)] : []),
        ].join('\n')
      })
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
