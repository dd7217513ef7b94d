import { openContext } from '../../ops/context.js'
import { verify } from '../../ops/verify.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { formatBytes, formatMs } from '../output.js'

const command: Command = {
  summary: 'check that every snapshot can be restored',
  usage: 'drkit verify [RESOURCE] [--read-data] [--json]',
  help:
    'Checks every snapshot, its chunk lists and the packs holding its chunks. With --read-data, every stored\n' +
    'byte is read and checked against its hash. Exits 1 naming each damaged object and the snapshots it affects.',
  options: { 'read-data': { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const result = await verify(ctx, { resource: positionals[0], readData: values['read-data'] === true })
      out.result(result, (r) => {
        const head =
          `${r.ok ? 'ok' : 'DAMAGED'}: ${r.snapshots} snapshots, ${r.packs} packs` +
          (r.bytesRead > 0 ? `, ${formatBytes(r.bytesRead)} read` : '') +
          ` in ${formatMs(r.durationMs)}`
        const lines = r.problems.map(
          (p) =>
            `  ${p.object}: ${p.problem}` +
            (p.snapshots.length > 0 ? `\n    affects snapshots ${p.snapshots.map(shortId).join(', ')}` : ''),
        )
        return [head, ...lines].join('\n')
      })
      return result.ok ? 0 : 1
    } finally {
      await ctx.close()
    }
  },
}

export default command
