import { PlanError } from '../../errors.js'
import { formatAge } from '../../objectives/index.js'
import { openContext } from '../../ops/context.js'
import { type ResourceCheck, type VerifyResult, verify } from '../../ops/verify.js'
import { alertVerifyResult } from '../../ops/verify-alerts.js'
import { formatDuration } from '../../plan/index.js'
import { shortId } from '../../repository/index.js'
import { commandAlerts } from '../alerting.js'
import type { Command } from '../command.js'
import { durationFlag } from '../flags.js'
import { formatBytes, formatMs } from '../output.js'

const usage = 'drkit verify [RESOURCE] [--read-data[=PERCENT]] [--restore-test] [--wait DURATION] [--json]'

const command: Command = {
  summary: 'check that every snapshot and moment can be restored, and that backups are fresh',
  usage,
  help:
    'Checks every snapshot, its chunk lists and the packs holding its chunks, and the change chains of each\n' +
    'resource. With --read-data, every stored byte is read and checked against its hash; with --read-data=10, a\n' +
    'random 10% of the packs and segments, a different share each run. Then, per resource, the newest recoverable\n' +
    'point against its RPO, and for a `snapshots.schedule` the days of the last 30 without a snapshot.\n' +
    'With --restore-test, the newest recoverable state of each resource is restored into a scratch target\n' +
    '(removed afterwards) and compared with what was recorded at backup time.\n' +
    'Holds a read lock on the repository, so that no prune deletes what it reads; it waits (--wait, default\n' +
    "10m) for a prune's delete phase in flight.\n" +
    'The result is stored in the repository as evidence (shown by `drkit status` and `drkit report`); a failure\n' +
    'sends the alert verify.failed, and the next passing run resolves it.\n' +
    'Exits 1 naming each damaged object, the snapshots and moments it makes unrecoverable, or the objective missed.',
  options: { 'read-data': { type: 'boolean' }, 'restore-test': { type: 'boolean' }, wait: { type: 'string' } },
  async run({ values, positionals }, { out, config }) {
    if (positionals.length > 1) throw new PlanError(`unexpected argument "${positionals[1]}"`, `Usage: ${usage}`)
    const readData = percentFlag(values['read-data'])
    const ctx = await openContext({ config })
    try {
      const restoreTest = values['restore-test'] === true
      const waitMs = durationFlag('wait', values.wait)
      const result = await verify(ctx, { resource: positionals[0], readData, restoreTest, waitMs })
      if (result.evidence.error) out.warn(`the result could not be stored as evidence: ${result.evidence.error}`)
      const alerts = commandAlerts(ctx.plan, out)
      alertVerifyResult(alerts, result)
      const deliveries = await alerts.flush()
      out.result({ ...result, alerts: deliveries }, render)
      return result.ok && result.objectivesMet ? 0 : 1
    } finally {
      await ctx.close()
    }
  },
}

/** `--read-data` (every byte) or `--read-data=PERCENT`. */
function percentFlag(value: string | boolean | undefined): boolean | number {
  if (typeof value !== 'string') return value === true
  const percent = Number(value.replace(/%$/, ''))
  if (value.trim() === '' || !Number.isFinite(percent) || percent <= 0 || percent > 100)
    throw new PlanError(`--read-data=${value}: expected a percentage above 0 and up to 100`, `Usage: ${usage}`)
  return percent
}

function render(r: VerifyResult): string {
  const read = r.bytesRead > 0 ? `, ${formatBytes(r.bytesRead)} read` : ''
  const share = r.readDataPercent > 0 && r.readDataPercent < 100 ? ` (a random ${r.readDataPercent}% of the data)` : ''
  const head = `${r.ok ? 'ok' : 'DAMAGED'}: ${r.snapshots} snapshots, ${r.packs} packs${read}${share} in ${formatMs(r.durationMs)}`
  const lines = r.problems.map(
    (p) =>
      `  ${p.object}: ${p.problem}` +
      (p.snapshots.length > 0 ? `\n    affects snapshots ${p.snapshots.map(shortId).join(', ')}` : ''),
  )
  for (const t of r.restoreTests ?? []) {
    lines.push(
      `restore test of ${t.resource}: ${t.ok ? 'ok' : 'FAILED'}` +
        (t.point ? `, state of ${t.point} restored in ${formatMs(t.restoreMs)}` : '') +
        (t.live && 'loss' in t.live && t.live.loss.changes > 0
          ? ` (${t.live.loss.changes} live changes not yet backed up)`
          : ''),
    )
  }
  for (const check of r.resources) {
    lines.push(`${check.resource}: ${freshnessLine(check)}${coverageLine(check)}`)
    for (const finding of check.findings) lines.push(`  ${finding}`)
  }
  return [head, ...lines].join('\n')
}

function freshnessLine(check: ResourceCheck): string {
  const f = check.freshness
  const rpo = f.rpoMs === undefined ? 'no RPO set' : `RPO ${formatDuration(f.rpoMs)}`
  if (!f.newest) return `nothing recoverable yet (${rpo})`
  return `newest recoverable point ${f.newest}, ${formatAge(f.ageMs!)} old (${rpo})`
}

function coverageLine(check: ResourceCheck): string {
  const c = check.coverage
  if (!c?.from) return ''
  return `; schedule covered ${c.from} – ${c.to}${c.missing.length > 0 ? ` except ${c.missing.length} days` : ''}`
}

export default command
