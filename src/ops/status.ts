import type { AlertEvent } from '../alerts/index.js'
import { assessFreshness, drillsDue, formatAge, predictRto, type RestoreMeasurement } from '../objectives/index.js'
import { formatDuration } from '../plan/index.js'
import type { Snapshot } from '../repository/index.js'
import type { OpsContext } from './context.js'
import { type DrillEvidence, latest, readEvidence } from './evidence.js'
import { readTimelineFrom } from './timeline.js'

/** One line per problem: a breach of an objective (exit 1) or a warning. */
export interface StatusProblem {
  severity: 'breach' | 'warning'
  /** The alert this problem raises while it lasts, and what it is about. */
  event?: AlertEvent
  source: string
  message: string
}

export interface ResourceStatus {
  resource: string
  type: string
  objectives: { rpoMs?: number; rtoMs?: number }
  capture: boolean
  snapshots: number
  /** The newest recoverable moment and its age; the whole point-in-time window. */
  newest?: string
  ageMs?: number
  window?: { from: string; to: string; stretches: number }
  lastVerify?: { time: string; ok: boolean; findings: string[] }
  lastDrill?: { name: string; time: string; ok: boolean; rtoMs?: number; rpoMs?: number; reason?: string }
  /** From measured restore times scaled to the current size; absent ("unknown") without a measurement. */
  predictedRtoMs?: number
  /** How many drills the prediction rests on. */
  measurements: number
}

export interface DrillStatus {
  name: string
  resource?: string
  every?: string
  lastRun?: string
  lastOk?: boolean
  due?: string
  overdue: boolean
}

export interface StatusReport {
  time: string
  /** No objective is breached. */
  ok: boolean
  resources: ResourceStatus[]
  drills: DrillStatus[]
  problems: StatusProblem[]
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * The objectives against reality, per resource: the newest recoverable point against the
 * RPO, the point-in-time window, the last verification, the last drill and its measured
 * RTO, a predicted RTO, and the drills that are due. Reads the repository only.
 */
export async function status(ctx: OpsContext, opts: { now?: Date } = {}): Promise<StatusReport> {
  const now = (opts.now ?? new Date()).getTime()
  const repository = await ctx.repository()
  const evidence = await readEvidence(repository)
  const problems: StatusProblem[] = []
  const resources: ResourceStatus[] = []
  for (const resource of Object.values(ctx.plan.resources)) {
    const name = resource.name
    const [snapshots, { timeline }] = await Promise.all([
      repository.listSnapshots(name),
      readTimelineFrom(repository, name),
    ])
    const { rpoMs, rtoMs } = resource.objectives
    const fresh = assessFreshness(timeline, rpoMs, now)
    const verified = latest(evidence.verify, (r) => r.resource === name)
    const drilled = latest(evidence.drill, (r) => (r.resource ?? r.body.resource) === name)
    const measurements = restoreMeasurements(
      evidence.drill.filter((r) => (r.resource ?? r.body.resource) === name),
      snapshots,
    )
    const size = snapshots.at(-1)?.stats.size
    const predictedRtoMs = size === undefined ? undefined : predictRto(measurements, size)
    const state: ResourceStatus = {
      resource: name,
      type: resource.type,
      objectives: { rpoMs, rtoMs },
      capture: resource.capture !== undefined,
      snapshots: snapshots.length,
      newest: fresh.newest === undefined ? undefined : iso(fresh.newest),
      ageMs: fresh.ageMs,
      window: fresh.window && {
        from: iso(fresh.window.from),
        to: iso(fresh.window.to),
        stretches: fresh.window.stretches,
      },
      lastVerify: verified && { time: verified.time, ok: verified.ok, findings: verified.body?.check?.findings ?? [] },
      lastDrill: drilled && {
        name: drilled.body.name,
        time: drilled.time,
        ok: drilled.ok,
        rtoMs: drilled.body.rto?.actualMs,
        rpoMs: drilled.body.rpo?.actualMs,
        reason: drilled.body.reason,
      },
      predictedRtoMs,
      measurements: measurements.length,
    }
    resources.push(state)
    problems.push(...resourceProblems(state, fresh.breached))
  }
  const drills = drillStatus(ctx, evidence.drill, now)
  for (const d of drills) {
    if (d.lastOk === false)
      problems.push({
        severity: 'breach',
        event: 'drill.failed',
        source: d.name,
        message: failedDrill(d, evidence.drill),
      })
    if (d.overdue)
      problems.push({
        severity: 'warning',
        event: 'drill.overdue',
        source: d.name,
        message: d.lastRun
          ? `drill ${d.name} is overdue: due ${d.due} (${d.every}), last run ${d.lastRun}`
          : `drill ${d.name} has never run (${d.every})`,
      })
  }
  return { time: iso(now), ok: !problems.some((p) => p.severity === 'breach'), resources, drills, problems }
}

function resourceProblems(s: ResourceStatus, rpoBreached: boolean): StatusProblem[] {
  const problems: StatusProblem[] = []
  const source = s.resource
  const { rpoMs, rtoMs } = s.objectives
  if (rpoBreached)
    problems.push({
      severity: 'breach',
      event: 'rpo.breached',
      source,
      message:
        s.newest === undefined
          ? `${source}: nothing is recoverable yet, against an RPO of ${formatDuration(rpoMs!)}`
          : `${source}: the newest recoverable point is ${formatAge(s.ageMs!)} old, over the RPO of ${formatDuration(rpoMs!)}`,
    })
  if (s.lastVerify && !s.lastVerify.ok)
    problems.push({
      severity: 'breach',
      event: 'verify.failed',
      source,
      message: `${source}: the last verification (${s.lastVerify.time}) failed${s.lastVerify.findings.length > 0 ? `: ${s.lastVerify.findings.join('; ')}` : ''}`,
    })
  if (!s.lastVerify)
    problems.push({
      severity: 'warning',
      source,
      message: `${source}: never verified (run \`drkit verify ${source}\`)`,
    })
  if (rtoMs !== undefined && s.lastDrill?.rtoMs !== undefined && s.lastDrill.rtoMs > rtoMs)
    problems.push({
      severity: 'breach',
      source,
      message: `${source}: the last drill (${s.lastDrill.name}, ${s.lastDrill.time}) took ${formatDuration(s.lastDrill.rtoMs)}, over the RTO of ${formatDuration(rtoMs)}`,
    })
  if (rtoMs !== undefined && s.predictedRtoMs !== undefined && s.predictedRtoMs > rtoMs)
    problems.push({
      severity: 'breach',
      source,
      message: `${source}: a restore is predicted to take ${formatDuration(s.predictedRtoMs)} at the current size, over the RTO of ${formatDuration(rtoMs)}`,
    })
  if (rtoMs !== undefined && s.predictedRtoMs === undefined && s.snapshots > 0)
    problems.push({
      severity: 'warning',
      source,
      message: `${source}: RTO ${formatDuration(rtoMs)} is not measured yet: run a drill of ${source} to predict it`,
    })
  return problems
}

/**
 * Restore times that drills measured (passed or not: a drill that missed its RTO measured
 * it all the same), each with the size of the resource's newest snapshot at that time, so
 * that a prediction can scale them to the current size.
 */
function restoreMeasurements(
  drills: { time: string; body: DrillEvidence }[],
  snapshots: Snapshot[],
): RestoreMeasurement[] {
  return drills.flatMap((d) => {
    const ms = d.body.rto?.actualMs
    const at = Date.parse(d.time)
    const snapshot = latest(snapshots, (s) => Date.parse(s.time) <= at)
    return ms === undefined || !snapshot ? [] : [{ time: at, bytes: snapshot.stats.size, ms }]
  })
}

function drillStatus(ctx: OpsContext, records: { time: string; ok: boolean; body: DrillEvidence }[], now: number) {
  const last = new Map<string, { time: string; ok: boolean }>()
  for (const r of records) last.set(r.body.name, r)
  const due = new Map(
    drillsDue(ctx.plan.drills, new Map([...last].map(([name, r]) => [name, Date.parse(r.time)])), now).map((d) => [
      d.name,
      d,
    ]),
  )
  return ctx.plan.drills.map(
    (d): DrillStatus => ({
      name: d.name,
      resource: d.resource,
      every: everyText(d.every),
      lastRun: last.get(d.name)?.time,
      lastOk: last.get(d.name)?.ok,
      due: due.has(d.name) ? iso(due.get(d.name)!.due) : undefined,
      overdue: due.get(d.name)?.overdue ?? false,
    }),
  )
}

function failedDrill(d: DrillStatus, records: { time: string; body: DrillEvidence }[]): string {
  const reason = latest(records, (r) => r.body.name === d.name)?.body.reason
  return `drill ${d.name} failed on ${d.lastRun}${reason ? `: ${reason}` : ''}`
}

function everyText(every: OpsContext['plan']['drills'][number]['every']): string | undefined {
  if (!every) return undefined
  return every.kind === 'interval'
    ? `every ${formatDuration(every.ms)}`
    : { day: 'daily', week: 'weekly', month: 'monthly', quarter: 'quarterly', year: 'yearly' }[every.unit]
}
