import { DrkitError, PlanError } from '../../errors.js'
import type { OpsContext } from '../../ops/context.js'
import type { RestoreResult } from '../../ops/restore.js'
import { checkRecorded, compareLive, type DataLoss } from '../../ops/restore-test.js'
import { scratchFactory } from '../../ops/scratch/index.js'
import type { Drill, Resource } from '../../plan/index.js'
import type { Fingerprint } from '../../sources/index.js'
import type { DrillRun } from '../run.js'
import { WorkingCopy } from '../working-copy.js'

export const hour = 3_600_000
export const minutes = (n: number) => n * 60_000

/** The drill's resource, or a PlanError naming the known ones. */
export function drillResource(drill: Drill, ctx: OpsContext): Resource {
  if (drill.resource === undefined) throw new PlanError(`drill "${drill.name}" (${drill.kind}) names no resource`)
  const resource = ctx.resource(drill.resource)
  if (drill.staging !== undefined) ctx.resource(drill.staging)
  return resource
}

/** PlanError unless the resource's type has scratch targets that run SQL and a source that captures changes. */
export async function requireCapture(drill: Drill, ctx: OpsContext, resource: Resource): Promise<void> {
  const source = await ctx.openSource(resource.name)
  const capture = source.capabilities.capture
  await source.close()
  if (!capture || !scratchFactory(resource).sql) {
    throw new PlanError(
      `drill "${drill.name}": a ${drill.kind} drill needs a resource that captures row changes, ` +
        `and ${resource.name} is of type ${resource.type}`,
      resource.type === 'redis' || resource.type === 'files'
        ? 'Use kind kv-restore or restore-test for it.'
        : 'Use kind restore-test for it.',
    )
  }
}

export interface Recovered {
  copy: WorkingCopy
  restored: RestoreResult
  fingerprint: Fingerprint
}

/**
 * Restores a resource's newest recoverable state into a new working copy, then checks
 * the copy against what was recorded at backup time: the proof that the backup restores.
 */
export async function recoverLatest(run: DrillRun, resource: string): Promise<Recovered> {
  const { copy, restored } = await run.step(
    'restore',
    `restore ${resource} (newest recoverable state) into a ${run.drill.staging ? 'staging' : 'scratch'} copy`,
    async (signal) => {
      const copy = await WorkingCopy.open(run, resource)
      return { copy, restored: await copy.restoreLatest(signal) }
    },
    {
      timeoutMs: hour,
      detail: ({ copy, restored: r }) =>
        `state of ${r.time} into ${copy.target.target}: snapshot ${r.snapshot.id.slice(0, 8)}` +
        (r.changes > 0 ? ` and ${r.changes} changes` : ''),
    },
  )
  const fingerprint = await run.step(
    'verify',
    `check the restored ${resource} against what was recorded at backup time`,
    async () => {
      const fingerprint = await copy.fingerprint()
      const mismatches = checkRecorded(restored, fingerprint)
      if (mismatches.length > 0) throw new DrkitError(`the restored copy differs: ${mismatches.join('; ')}`)
      return fingerprint
    },
    { timeoutMs: hour, detail: (fp) => describeFingerprint(fp) },
  )
  return { copy, restored, fingerprint }
}

/**
 * The drill resource's newest state recovered into a copy that has capture of its own,
 * shipping to a scratch repository, with the table the scenario's marker writes go to.
 */
export async function recoverWithCapture(run: DrillRun): Promise<WorkingCopy> {
  const { copy } = await recoverLatest(run, run.drill.resource!)
  await run.step(
    'prepare',
    'install capture in the copy, shipping to a scratch repository',
    async () => {
      await createMarkers(copy)
      await copy.enableCapture()
    },
    { timeoutMs: hour },
  )
  return copy
}

/** Measures what recovering from the repository now would lose against the live resource: the RPO achieved. */
export async function measureAgainstLive(run: DrillRun, recovered: Recovered[]): Promise<void> {
  await run.step(
    'compare',
    `compare with the live ${recovered.map((r) => r.copy.resource.name).join(', ')} (committed data a recovery now would lose)`,
    async () => {
      const losses: DataLoss[] = []
      for (const r of recovered) {
        const loss = await compareLive(run.ctx, r.copy.resource.name, r.restored, r.fingerprint)
        losses.push({ ...loss, tables: loss.tables.map((t) => `${r.copy.resource.name}.${t}`) })
      }
      const oldest = recovered.map((r) => r.restored.time).sort()[0]
      run.loss = { ...combine(losses), recoveredPoint: oldest }
      return run.loss
    },
    { timeoutMs: hour, detail: (loss) => describeLoss(loss) },
  )
}

function combine(losses: DataLoss[]): DataLoss {
  return {
    changes: losses.reduce((n, l) => n + l.changes, 0),
    windowMs: Math.max(0, ...losses.map((l) => l.windowMs)),
    exact: losses.every((l) => l.exact),
    tables: losses.flatMap((l) => l.tables),
  }
}

export function describeLoss(loss: DataLoss): string {
  if (loss.changes === 0) return 'nothing lost'
  return (
    `${loss.exact ? '' : 'at least '}${loss.changes} changes lost over ${loss.windowMs} ms` +
    (loss.tables.length > 0 ? ` (${loss.tables.join(', ')})` : '')
  )
}

function describeFingerprint(fp: Fingerprint): string {
  const tables = Object.entries(fp.tables).filter(([name]) => name !== 'sqlite_schema')
  return tables.map(([name, t]) => `${name} ${t.rows}`).join(', ') || 'empty'
}

/** The drill's own marker table: writes the scenario makes and later counts. */
export const markerTable = 'drkit_drill_writes'

/**
 * Creates the marker table (before capture is installed, so it is captured from the start),
 * in SQL that SQLite and PostgreSQL read alike: ids are given, times are milliseconds.
 */
export function createMarkers(copy: WorkingCopy): Promise<unknown> {
  return copy.query(
    `CREATE TABLE IF NOT EXISTS ${markerTable} (id INTEGER PRIMARY KEY, phase TEXT NOT NULL, at BIGINT NOT NULL)`,
  )
}

/** `n` committed writes, one transaction each, as an application would make them. */
export async function writeMarkers(copy: WorkingCopy, phase: string, n: number): Promise<number> {
  for (let i = 0; i < n; i++) {
    await copy.query(
      `INSERT INTO ${markerTable} (id, phase, at) ` +
        `SELECT coalesce(max(id), 0) + 1, '${phase}', ${Date.now()} FROM ${markerTable}`,
    )
  }
  return n
}

/** A fingerprint without some tables. */
export function without(fp: Fingerprint, ...names: string[]): Fingerprint {
  return { tables: Object.fromEntries(Object.entries(fp.tables).filter(([name]) => !names.includes(name))) }
}
