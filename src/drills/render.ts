import { formatDuration } from '../plan/index.js'
import type { DrillReport } from './report.js'

/**
 * A drill report as markdown, in the shape of the drill logs recovery runbooks keep: date,
 * environment, RTO and RPO target against actual, the steps with their timings, issues
 * and the result.
 */
export function formatDrillReport(r: DrillReport): string {
  const env =
    r.environment.kind === 'staging'
      ? `staging resource ${r.environment.staging}`
      : `scratch copy (${Object.values(r.environment.targets).join(', ') || 'no targets'}), removed afterwards`
  const lines = [
    `# Drill log: ${r.name}`,
    '',
    '| | |',
    '| --- | --- |',
    `| Date | ${r.started.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} |`,
    `| Scenario | ${r.kind}${r.resource ? ` on ${r.resource}` : ''} |`,
    `| Environment | ${env}, host ${r.environment.host}, drkit ${r.environment.drkitVersion} |`,
    `| RTO target / actual | ${target(r.rto.targetMs)} / ${r.rto.actualMs === undefined ? 'not measured' : formatDuration(r.rto.actualMs)} ${mark(r.rto.met)} |`,
    `| RPO target / actual data loss | ${target(r.rpo.targetMs)} / ${loss(r)} ${mark(r.rpo.met)} |`,
    `| Duration | ${formatDuration(r.durationMs)} |`,
    `| Result | **${r.ok ? 'PASS' : 'FAIL'}** |`,
    '',
    '## Steps',
    '',
    '| # | Step | Time | Result |',
    '| --- | --- | --- | --- |',
    ...r.steps.map(
      (s) =>
        `| ${s.n} | ${cell(`${s.kind}: ${s.title}`)} | ${formatDuration(s.durationMs)} | ` +
        `${s.ok ? 'ok' : 'FAILED'}${s.detail || s.error ? `: ${cell(s.error ?? s.detail ?? '')}` : ''} |`,
    ),
    '',
    '## Issues',
    '',
    ...(r.issues.length > 0 ? r.issues.map((i) => `- ${i}`) : ['None.']),
  ]
  return lines.join('\n').replace(/ +\|/g, ' |')
}

function target(ms: number | undefined): string {
  return ms === undefined ? 'none set' : formatDuration(ms)
}

function mark(met: boolean | undefined): string {
  return met === undefined ? '' : met ? '(met)' : '(MISSED)'
}

function loss(r: DrillReport): string {
  const { actualMs, changesLost, exact } = r.rpo
  if (actualMs === undefined || changesLost === undefined) return 'not measured'
  if (changesLost === 0) return 'none'
  return `${exact ? '' : 'at least '}${changesLost} changes over ${formatDuration(actualMs)}`
}

/** Table cells keep to one line and do not end the cell early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}
