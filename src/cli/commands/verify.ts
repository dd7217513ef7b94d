import { openContext } from '../../ops/context.js'
import { verify } from '../../ops/verify.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { formatBytes, formatMs } from '../output.js'

const command: Command = {
  summary: 'check that every snapshot can be restored',
  usage: 'drkit verify [RESOURCE] [--read-data] [--restore-test] [--json]',
  help:
    'Checks every snapshot, its chunk lists and the packs holding its chunks. With --read-data, every stored\n' +
    'byte is read and checked against its hash. With --restore-test, the newest recoverable state of each resource\n' +
    'is restored into a scratch target (removed afterwards) and compared with what was recorded at backup time.\n' +
    'Exits 1 naming each damaged object and the snapshots it affects.',
  options: { 'read-data': { type: 'boolean' }, 'restore-test': { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const result = await verify(ctx, {
        resource: positionals[0],
        readData: values['read-data'] === true,
        restoreTest: values['restore-test'] === true,
      })
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
        const tests = (r.restoreTests ?? []).map(
          (t) =>
            `  restore test of ${t.resource}: ${t.ok ? 'ok' : 'FAILED'}` +
            (t.point ? `, state of ${t.point} restored in ${formatMs(t.restoreMs)}` : '') +
            (t.live && 'loss' in t.live && t.live.loss.changes > 0
              ? ` (${t.live.loss.changes} live changes not yet backed up)`
              : ''),
        )
        return [head, ...lines, ...tests].join('\n')
      })
      return result.ok ? 0 : 1
    } finally {
      await ctx.close()
    }
  },
}

export default command
