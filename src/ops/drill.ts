import { PlanError } from '../errors.js'
import { type Drill, type Every, formatDuration, nextDue } from '../plan/index.js'
import type { EvidenceRecord } from '../repository/index.js'
import type { OpsContext } from './context.js'

/** What drill listings read of a drill report (drills/report.ts has the whole shape). */
export interface DrillEvidence {
  name: string
  resource?: string
  ok: boolean
  finished: string
  rto: { actualMs?: number }
  rpo: { actualMs?: number; changesLost?: number }
}

export interface DrillListing {
  name: string
  kind: Drill['kind']
  resource?: string
  /** `quarterly`, `12h`, or absent when the drill runs only when asked. */
  every?: string
  last?: { time: string; ok: boolean; id: string; rtoMs?: number; rpoMs?: number }
  /** When it is due next; absent without `every`. Never run: due now. */
  nextDue?: string
  due: boolean
}

/** Stores a drill report as evidence in the repository. */
export async function recordDrillReport<Body extends DrillEvidence>(
  ctx: OpsContext,
  report: Body,
): Promise<EvidenceRecord<Body>> {
  const repository = await ctx.repository()
  return repository.writeEvidence({
    kind: 'drill',
    time: report.finished,
    ...(report.resource !== undefined && { resource: report.resource }),
    ok: report.ok,
    body: report,
  })
}

/** Every stored report of one drill (or of all), oldest first. */
export async function listDrillReports<Body extends DrillEvidence = DrillEvidence>(
  ctx: OpsContext,
  drill?: string,
): Promise<EvidenceRecord<Body>[]> {
  const records = await (await ctx.repository()).listEvidence<Body>('drill')
  return drill === undefined ? records : records.filter((r) => r.body.name === drill)
}

/** Each drill of the plan with its last run and when it is due (pure but for reading the evidence). */
export async function listDrills(ctx: OpsContext, now = new Date()): Promise<DrillListing[]> {
  const last = new Map<string, EvidenceRecord<DrillEvidence>>()
  for (const record of await listDrillReports(ctx)) last.set(record.body.name, record)
  return ctx.plan.drills.map((drill) => describeDrill(drill, last.get(drill.name), now))
}

export function describeDrill(drill: Drill, last: EvidenceRecord<DrillEvidence> | undefined, now: Date): DrillListing {
  const due = drill.every && (last ? nextDue(drill.every, new Date(last.time)) : now)
  return {
    name: drill.name,
    kind: drill.kind,
    ...(drill.resource !== undefined && { resource: drill.resource }),
    ...(drill.every && { every: formatEvery(drill.every) }),
    ...(last && {
      last: {
        time: last.time,
        ok: last.ok,
        id: last.id,
        rtoMs: last.body.rto.actualMs,
        rpoMs: last.body.rpo.actualMs,
      },
    }),
    ...(due && { nextDue: due.toISOString() }),
    due: due !== undefined && due.getTime() <= now.getTime(),
  }
}

const calendarNames = { day: 'daily', week: 'weekly', month: 'monthly', quarter: 'quarterly', year: 'yearly' }

export function formatEvery(every: Every): string {
  return every.kind === 'calendar' ? calendarNames[every.unit] : formatDuration(every.ms)
}

export interface DrillSelection {
  names?: string[]
  all?: boolean
  due?: boolean
}

/** The drills a command asks for: by name (PlanError naming the known ones), every one, or the due ones. */
export async function selectDrills(ctx: OpsContext, sel: DrillSelection, now = new Date()): Promise<Drill[]> {
  const given = [sel.names?.length ? 'names' : undefined, sel.all ? '--all' : undefined, sel.due ? '--due' : undefined]
  if (given.filter(Boolean).length !== 1) {
    throw new PlanError(
      'name the drills to run, or give --all or --due (one of them)',
      'Usage: drkit drill NAME... | --all | --due',
    )
  }
  const { drills } = ctx.plan
  if (sel.all) return drills
  if (sel.due) {
    const due = new Set((await listDrills(ctx, now)).filter((d) => d.due).map((d) => d.name))
    return drills.filter((d) => due.has(d.name))
  }
  return sel.names!.map((name) => findDrill(ctx, name))
}

export function findDrill(ctx: OpsContext, name: string): Drill {
  const drill = ctx.plan.drills.find((d) => d.name === name)
  if (drill) return drill
  const known = ctx.plan.drills.map((d) => d.name)
  throw new PlanError(
    `there is no drill "${name}" in ${ctx.plan.file ?? 'the plan'}`,
    known.length > 0 ? `Known drills: ${known.join(', ')}.` : 'Add it under `drills:` first.',
  )
}
