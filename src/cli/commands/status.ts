import { formatAge } from '../../objectives/index.js'
import { openContext } from '../../ops/context.js'
import { type ResourceStatus, type StatusReport, status } from '../../ops/status.js'
import { formatDuration } from '../../plan/index.js'
import type { Command } from '../command.js'
import { formatTable } from '../output.js'

const command: Command = {
  summary: 'objectives against reality, per resource',
  usage: 'drkit status [--json]',
  help:
    'Per resource: the newest recoverable point and its age against the RPO, the point-in-time window, the last\n' +
    'verification, the last drill and its measured RTO, a restore time predicted from measured drills, and\n' +
    'each drill with its next due date. Then one line per problem.\n' +
    'Exits 1 if any objective is breached (RPO missed, failed verification or drill, RTO over its objective).',
  async run(_args, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const report = await status(ctx)
      out.result(report, render)
      return report.ok ? 0 : 1
    } finally {
      await ctx.close()
    }
  },
}

const duration = (ms: number | undefined) => (ms === undefined ? '-' : formatDuration(ms))

function render(r: StatusReport): string {
  const lines = [`status at ${r.time}: ${r.ok ? 'objectives met' : 'OBJECTIVES BREACHED'}`, '']
  for (const s of r.resources) lines.push(...resourceLines(s), '')
  if (r.drills.length > 0) {
    lines.push(
      formatTable(
        ['drill', 'resource', 'every', 'last run', 'result', 'next due'],
        r.drills.map((d) => [
          d.name,
          d.resource ?? '-',
          d.every ?? '-',
          d.lastRun ?? 'never',
          d.lastOk === undefined ? '-' : d.lastOk ? 'passed' : 'FAILED',
          d.due ? `${d.due}${d.overdue ? ' (overdue)' : ''}` : '-',
        ]),
      ),
      '',
    )
  }
  if (r.problems.length === 0) lines.push('no problems')
  for (const p of r.problems) lines.push(`${p.severity === 'breach' ? 'BREACH ' : 'warning'} ${p.message}`)
  return lines.join('\n')
}

function resourceLines(s: ResourceStatus): string[] {
  const { rpoMs, rtoMs } = s.objectives
  const lines = [`${s.resource} (${s.type}${s.capture ? ', captured' : ''}, ${s.snapshots} snapshots)`]
  lines.push(
    `  RPO ${duration(rpoMs).padEnd(6)} ` +
      (s.newest ? `newest recoverable point ${s.newest}, ${formatAge(s.ageMs!)} old` : 'nothing recoverable yet'),
  )
  if (s.window)
    lines.push(
      `  window     ${s.window.from} – ${s.window.to}${s.window.stretches > 1 ? ` (${s.window.stretches} stretches)` : ''}`,
    )
  const predicted =
    s.predictedRtoMs === undefined
      ? 'predicted restore time unknown (no drill measured one)'
      : `predicted restore ${formatDuration(s.predictedRtoMs)} (from ${s.measurements} drills)`
  lines.push(`  RTO ${duration(rtoMs).padEnd(6)} ${predicted}`)
  if (s.lastDrill)
    lines.push(
      `  drill      ${s.lastDrill.name} ${s.lastDrill.time} ${s.lastDrill.ok ? 'passed' : 'FAILED'}` +
        (s.lastDrill.rtoMs !== undefined ? `, RTO ${formatDuration(s.lastDrill.rtoMs)}` : '') +
        (s.lastDrill.rpoMs !== undefined ? `, RPO ${formatDuration(s.lastDrill.rpoMs)}` : ''),
    )
  lines.push(`  verified   ${s.lastVerify ? `${s.lastVerify.time} ${s.lastVerify.ok ? 'ok' : 'FAILED'}` : 'never'}`)
  return lines
}

export default command
