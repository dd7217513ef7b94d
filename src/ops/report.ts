import type { OpsContext } from './context.js'
import { readEvidence } from './evidence.js'

export interface ReportOptions {
  /** The start of the period (default: 90 days before now). */
  since?: Date
  now?: Date
}

export interface ReportObjective {
  resource: string
  type: string
  rpoMs?: number
  rtoMs?: number
  capture: boolean
  schedule?: string
}

export interface ReportBackups {
  resource: string
  /** Snapshots committed in the period still in the repository (retention may have forgotten others). */
  snapshots: number
  first?: string
  last?: string
  /** Size of the newest snapshot, and bytes new to the repository over the period. */
  size?: number
  newBytes: number
}

export interface ReportVerification {
  time: string
  resource?: string
  ok: boolean
  readDataPercent: number
  findings: string[]
  /** Age of the newest recoverable point when verified, against the RPO. */
  ageMs?: number
  rpoMs?: number
}

export interface ReportDrill {
  time: string
  name: string
  kind?: string
  resource?: string
  ok: boolean
  rto: { targetMs?: number; actualMs?: number }
  rpo: { targetMs?: number; actualMs?: number; changesLost?: number }
  reason?: string
}

export interface ReportFailure {
  time: string
  kind: 'verify' | 'drill'
  /** The resource verified or the drill run. */
  subject: string
  what: string
  /** The first later success of the same check, which shows the problem resolved. */
  resolved?: { time: string }
}

export interface ReportDocument {
  generated: string
  since: string
  plan?: string
  objectives: ReportObjective[]
  backups: ReportBackups[]
  verifications: ReportVerification[]
  drills: ReportDrill[]
  failures: ReportFailure[]
}

const dayMs = 86_400_000

/**
 * Evidence for an auditor over a period: the objectives, the snapshots taken, every
 * verification and drill with its measured figures, and each failure with the later
 * success that resolved it. Reads the plan and the repository only.
 */
export async function buildReport(ctx: OpsContext, opts: ReportOptions = {}): Promise<ReportDocument> {
  const now = opts.now ?? new Date()
  const since = opts.since ?? new Date(now.getTime() - 90 * dayMs)
  const repository = await ctx.repository()
  const evidence = await readEvidence(repository, since)
  const resources = Object.values(ctx.plan.resources)
  const objectives = resources.map((r) => ({
    resource: r.name,
    type: r.type,
    rpoMs: r.objectives.rpoMs,
    rtoMs: r.objectives.rtoMs,
    capture: r.capture !== undefined,
    schedule: r.snapshots?.schedule,
  }))
  const backups: ReportBackups[] = []
  for (const r of resources) {
    const inPeriod = (await repository.listSnapshots(r.name)).filter(
      (s) => Date.parse(s.time) >= since.getTime() && Date.parse(s.time) <= now.getTime(),
    )
    backups.push({
      resource: r.name,
      snapshots: inPeriod.length,
      first: inPeriod[0]?.time,
      last: inPeriod.at(-1)?.time,
      size: inPeriod.at(-1)?.stats.size,
      newBytes: inPeriod.reduce((sum, s) => sum + s.stats.newBytes, 0),
    })
  }
  const verifications = evidence.verify.map(
    (v): ReportVerification => ({
      time: v.time,
      resource: v.resource,
      ok: v.ok,
      readDataPercent: v.body?.readDataPercent ?? 0,
      findings: v.body?.check?.findings ?? [],
      ageMs: v.body?.check?.freshness?.ageMs,
      rpoMs: v.body?.check?.freshness?.rpoMs,
    }),
  )
  const drills = evidence.drill.map((d): ReportDrill => {
    const resource = d.resource ?? d.body.resource
    const planned = ctx.plan.drills.find((p) => p.name === d.body.name)
    const objectives = { ...(resource ? ctx.plan.resources[resource]?.objectives : {}), ...planned?.objectives }
    return {
      time: d.time,
      name: d.body.name,
      kind: d.body.kind,
      resource,
      ok: d.ok,
      rto: { targetMs: d.body.rto?.targetMs ?? objectives.rtoMs, actualMs: d.body.rto?.actualMs },
      rpo: {
        targetMs: d.body.rpo?.targetMs ?? objectives.rpoMs,
        actualMs: d.body.rpo?.actualMs,
        changesLost: d.body.rpo?.changesLost,
      },
      reason: d.body.reason,
    }
  })
  return {
    generated: now.toISOString(),
    since: since.toISOString(),
    plan: ctx.plan.file,
    objectives,
    backups,
    verifications,
    drills,
    failures: failuresOf(verifications, drills),
  }
}

/** Each failed verification or drill, with the first later success of the same check. */
function failuresOf(verifications: ReportVerification[], drills: ReportDrill[]): ReportFailure[] {
  const checks = [
    ...verifications.map((v) => ({
      time: v.time,
      kind: 'verify' as const,
      subject: v.resource ?? 'repository',
      ok: v.ok,
      what: v.findings.join('; ') || 'verification failed',
    })),
    ...drills.map((d) => ({
      time: d.time,
      kind: 'drill' as const,
      subject: d.name,
      ok: d.ok,
      what: d.reason ?? 'drill failed',
    })),
  ].sort((a, b) => a.time.localeCompare(b.time))
  return checks
    .filter((c) => !c.ok)
    .map((c) => {
      const fix = checks.find((o) => o.ok && o.kind === c.kind && o.subject === c.subject && o.time > c.time)
      return { time: c.time, kind: c.kind, subject: c.subject, what: c.what, resolved: fix && { time: fix.time } }
    })
}
