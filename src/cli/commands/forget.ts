import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { type ForgetResult, forget } from '../../ops/forget.js'
import { shortId } from '../../repository/index.js'
import type { Command } from '../command.js'
import { durationFlag } from '../flags.js'
import { formatBytes, formatMs } from '../output.js'

const command: Command = {
  summary: 'apply retention: forget snapshots and old changes, prune unreferenced data',
  usage: 'drkit forget [RESOURCE] [--dry-run] [--wait DURATION] [--max-unused PERCENT] [--json]',
  help:
    "Applies each resource's `retention` (a resource without one keeps everything) and says why each\n" +
    'snapshot is kept or forgotten, removes the captured changes the `pitr` window no longer needs, then\n' +
    'deletes packs nothing references and repacks packs that are mostly garbage, until at most\n' +
    '--max-unused (default 5%) of the repository is garbage a repack could free. Safe while backups and\n' +
    'agents run: the short delete phase waits (--wait, default 10m) for backups and restores in flight.\n' +
    'With --dry-run nothing is deleted.',
  options: { 'dry-run': { type: 'boolean' }, wait: { type: 'string' }, 'max-unused': { type: 'string' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const result = await forget(ctx, {
        resource: positionals[0],
        dryRun: values['dry-run'] === true,
        waitMs: durationFlag('wait', values.wait),
        maxUnused: maxUnusedFlag(values['max-unused']),
      })
      out.result(result, render)
      return 0
    } finally {
      await ctx.close()
    }
  },
}

function maxUnusedFlag(value: string | boolean | undefined): number | undefined {
  if (typeof value !== 'string') return undefined
  const percent = Number(value.replace(/%$/, ''))
  if (value.trim() === '' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    throw new PlanError(`--max-unused ${value}: expected a percentage from 0 to 100`, `Usage: ${command.usage}`)
  return percent / 100
}

function render(r: ForgetResult): string {
  const lines: string[] = []
  const will = r.dryRun ? 'would be ' : ''
  for (const res of r.resources) {
    const gone = res.snapshots.filter((s) => !s.keep).length
    lines.push(`${res.resource}: ${res.snapshots.length - gone} kept, ${gone} ${will}forgotten`)
    for (const s of res.snapshots) lines.push(`  ${shortId(s.id)}  ${s.time}  ${s.reasons.join(', ')}`)
    if (res.segmentsForgotten > 0) lines.push(`  ${res.segmentsForgotten} segments of changes ${will}removed`)
    if (res.windowStart) lines.push(`  point-in-time restore reaches back to ${res.windowStart}`)
    for (const name of res.lostBookmarks)
      lines.push(`  bookmark ${name} ${r.dryRun ? 'would no longer be' : 'is no longer'} restorable`)
  }
  const p = r.prune
  const removed = r.dryRun ? 'would remove' : 'removed'
  lines.push(
    `packs: ${p.packs.before} before; ${removed} ${p.packs.deleted} unused and ${p.packs.leftovers} left by` +
      ` interrupted backups, repacked ${p.packs.repacked} (${p.blobs.repacked} chunks into ${p.packs.written} new);` +
      ` ${formatBytes(p.bytes.removed)} freed` +
      (p.bytes.written > 0 ? `, ${formatBytes(p.bytes.written)} written` : '') +
      ` in ${formatMs(r.durationMs)}`,
  )
  return lines.join('\n')
}

export default command
