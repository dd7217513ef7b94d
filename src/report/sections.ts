import type { ReportDocument } from '../ops/report.js'
import { formatDuration } from '../plan/index.js'
import type { ChartSpec } from './chart.js'

/** What both renderings show, as rows of cells: one definition, so markdown and HTML agree. */
export interface Table {
  title: string
  header: string[]
  rows: string[][]
  empty: string
}

const d = (ms: number | undefined) => (ms === undefined ? '-' : formatDuration(ms))
const day = (time: string | undefined) => (time ? time.slice(0, 16).replace('T', ' ') : '-')

export function reportTables(doc: ReportDocument): Table[] {
  return [
    {
      title: 'Objectives',
      header: ['resource', 'type', 'RPO', 'RTO', 'capture', 'snapshot schedule'],
      rows: doc.objectives.map((o) => [
        o.resource,
        o.type,
        d(o.rpoMs),
        d(o.rtoMs),
        o.capture ? 'yes' : 'no',
        o.schedule ?? '-',
      ]),
      empty: 'The plan has no resources.',
    },
    {
      title: 'Backups taken',
      header: ['resource', 'snapshots', 'first', 'last', 'size of the last', 'new data stored'],
      rows: doc.backups.map((b) => [
        b.resource,
        String(b.snapshots),
        day(b.first),
        day(b.last),
        b.size === undefined ? '-' : bytes(b.size),
        bytes(b.newBytes),
      ]),
      empty: 'No resources.',
    },
    {
      title: 'Verifications',
      header: ['time', 'resource', 'result', 'data read', 'newest point age', 'findings'],
      rows: doc.verifications.map((v) => [
        day(v.time),
        v.resource ?? 'repository',
        v.ok ? 'passed' : 'FAILED',
        v.readDataPercent > 0 ? `${v.readDataPercent}%` : 'structure only',
        v.ageMs === undefined ? '-' : `${d(v.ageMs)}${v.rpoMs !== undefined ? ` (RPO ${d(v.rpoMs)})` : ''}`,
        v.findings.join('; ') || '-',
      ]),
      empty: 'No verification in this period: run `drkit verify --read-data`.',
    },
    {
      title: 'Drills',
      header: [
        'time',
        'drill',
        'kind',
        'resource',
        'result',
        'RTO actual / target',
        'RPO actual / target',
        'changes lost',
        'why',
      ],
      rows: doc.drills.map((x) => [
        day(x.time),
        x.name,
        x.kind ?? '-',
        x.resource ?? '-',
        x.ok ? 'passed' : 'FAILED',
        `${d(x.rto.actualMs)} / ${d(x.rto.targetMs)}`,
        `${d(x.rpo.actualMs)} / ${d(x.rpo.targetMs)}`,
        x.rpo.changesLost === undefined ? '-' : String(x.rpo.changesLost),
        x.reason ?? '-',
      ]),
      empty: 'No drill in this period: run `drkit drill`.',
    },
    {
      title: 'Failures and their resolution',
      header: ['time', 'check', 'subject', 'what failed', 'resolved'],
      rows: doc.failures.map((f) => [
        day(f.time),
        f.kind,
        f.subject,
        f.what,
        f.resolved ? `passed again ${day(f.resolved.time)}` : 'NOT RESOLVED',
      ]),
      empty: 'No failures in this period.',
    },
  ]
}

/** Per resource: measured RTO and RPO of its drills, and the newest point's age at each verification. */
export function reportCharts(doc: ReportDocument): ChartSpec[] {
  const charts: ChartSpec[] = []
  for (const o of doc.objectives) {
    const drills = doc.drills.filter((x) => x.resource === o.resource)
    const rto = drills.filter((x) => x.rto.actualMs !== undefined)
    const rpo = drills.filter((x) => x.rpo.actualMs !== undefined)
    const verified = doc.verifications.filter((v) => v.resource === o.resource && v.ageMs !== undefined)
    const at = (time: string) => Date.parse(time)
    if (rto.length > 0)
      charts.push({
        title: `${o.resource}: measured RTO per drill`,
        metric: 'rto',
        resource: o.resource,
        objectiveMs: rto.at(-1)!.rto.targetMs ?? o.rtoMs,
        points: rto.map((x) => ({
          time: at(x.time),
          value: x.rto.actualMs!,
          ok: x.ok,
          label: `${x.name} ${day(x.time)}`,
        })),
      })
    if (rpo.length > 0)
      charts.push({
        title: `${o.resource}: measured RPO (data lost) per drill`,
        metric: 'rpo',
        resource: o.resource,
        objectiveMs: rpo.at(-1)!.rpo.targetMs ?? o.rpoMs,
        points: rpo.map((x) => ({
          time: at(x.time),
          value: x.rpo.actualMs!,
          ok: x.ok,
          label: `${x.name} ${day(x.time)}`,
        })),
      })
    if (verified.length > 0)
      charts.push({
        title: `${o.resource}: age of the newest recoverable point at each verification`,
        metric: 'freshness',
        resource: o.resource,
        objectiveMs: o.rpoMs,
        points: verified.map((v) => ({ time: at(v.time), value: v.ageMs!, ok: v.ok, label: `verify ${day(v.time)}` })),
      })
  }
  return charts
}

export function reportSummary(doc: ReportDocument): string[] {
  const drillsOk = doc.drills.filter((x) => x.ok).length
  const verifiedOk = doc.verifications.filter((v) => v.ok).length
  const open = doc.failures.filter((f) => !f.resolved).length
  return [
    `Period: ${day(doc.since)} to ${day(doc.generated)} (UTC).`,
    `${doc.backups.reduce((n, b) => n + b.snapshots, 0)} snapshots kept from this period across ${doc.backups.length} resources.`,
    `${doc.verifications.length} verifications (${verifiedOk} passed), ${doc.drills.length} drills (${drillsOk} passed).`,
    `${doc.failures.length} failures, ${open} not resolved.`,
  ]
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}
