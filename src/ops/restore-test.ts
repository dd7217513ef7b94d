import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Fingerprint } from '../sources/index.js'
import type { OpsContext } from './context.js'
import { type RestoreResult, restore } from './restore.js'
import { type ScratchTarget, scratchFactory } from './scratch/index.js'

/** What a recovery lost against a reference state (the live resource, or the state before a fault). */
export interface DataLoss {
  /** Committed changes (rows, keys, files) the recovered state lacks. */
  changes: number
  /** From the recovered moment to the newest lost change (or to now, when that is not known); 0 when nothing was lost. */
  windowMs: number
  /** True when counted change by change (captured changes); false when estimated from fingerprints, a lower bound. */
  exact: boolean
  /** The tables (keyspaces, file sets) that differ. */
  tables: string[]
}

export interface RestoreTestResult {
  resource: string
  /** The restore worked and the restored copy has what was recorded at backup time. */
  ok: boolean
  target: string
  snapshot: string
  /** The moment the restored state is proven for. */
  point: string
  changes: number
  restoreMs: number
  /** Tables whose row count differs from the one recorded at backup time. */
  mismatches: string[]
  /** The restored copy against the live resource: what a recovery now would lose. */
  live?: { loss: DataLoss } | { error: string }
  error?: string
}

export interface RestoreTestOptions {
  /** Compare with the live resource too (default true). */
  compareLive?: boolean
  /** A target to use instead of a chosen scratch target (`scratch:` of a drill). */
  scratch?: string
}

/**
 * Restores the newest recoverable state of a resource into a scratch target, checks it
 * against what was recorded at backup time and measures how far it is behind the live
 * resource, then removes the scratch target. Failures (a type without scratch targets
 * included) are in the result, not thrown; an unknown resource is a PlanError.
 */
export async function restoreTest(
  ctx: OpsContext,
  resource: string,
  opts: RestoreTestOptions = {},
): Promise<RestoreTestResult> {
  const plan = ctx.resource(resource)
  const dir = await mkdtemp(join(tmpdir(), 'drkit-restore-test-'))
  let scratch: ScratchTarget | undefined
  const result: RestoreTestResult = {
    resource,
    ok: false,
    target: '',
    snapshot: '',
    point: '',
    changes: 0,
    restoreMs: 0,
    mismatches: [],
  }
  try {
    const resources = Object.values(ctx.plan.resources)
    scratch = await scratchFactory(plan).create(plan, {
      dir,
      label: resource,
      baseDir: ctx.plan.baseDir,
      given: opts.scratch,
      resources,
    })
    result.target = scratch.target
    const restored = await restore(ctx, { resource, target: scratch.target })
    Object.assign(result, {
      snapshot: restored.snapshot.id,
      point: restored.time,
      changes: restored.changes,
      restoreMs: restored.durationMs,
    })
    const recovered = await fingerprintOf(ctx, resource, { target: scratch.target })
    result.mismatches = checkRecorded(restored, recovered)
    if (opts.compareLive !== false) {
      result.live = await compareLive(ctx, resource, restored, recovered).then(
        (loss) => ({ loss }),
        (err: Error) => ({ error: err.message }),
      )
    }
    result.ok = result.mismatches.length === 0
  } catch (err) {
    result.error = (err as Error).message
  } finally {
    await scratch?.remove().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
  return result
}

export async function fingerprintOf(
  ctx: OpsContext,
  resource: string,
  of: 'source' | { target: string },
): Promise<Fingerprint> {
  const source = await ctx.openSource(resource)
  try {
    return await source.fingerprint(of)
  } finally {
    await source.close()
  }
}

/**
 * Tables whose row count in the restored copy differs from the count recorded when the
 * snapshot was taken. Only a restore of the snapshot alone can be checked so: replayed
 * changes move the counts. Where a source records its counts under other names than its
 * fingerprint uses (files: one count for the tree, fingerprints per top-level entry),
 * the totals are compared.
 */
export function checkRecorded(restored: RestoreResult, recovered: Fingerprint): string[] {
  if (restored.changes > 0) return []
  const recorded = restored.snapshot.tables
  const rows = (name: string) => recovered.tables[name]?.rows ?? 0
  if (recorded.every((t) => t.name in recovered.tables || t.rows === 0)) {
    return recorded
      .filter((t) => rows(t.name) !== t.rows)
      .map((t) => `${t.name}: ${rows(t.name)} rows restored, ${t.rows} recorded at backup time`)
  }
  const expected = recorded.reduce((n, t) => n + t.rows, 0)
  const actual = Object.values(recovered.tables).reduce((n, t) => n + t.rows, 0)
  return actual === expected ? [] : [`${actual} entries restored, ${expected} recorded at backup time`]
}

/**
 * What the restored state lacks against the live resource. With capture, the live
 * resource still holds the changes not yet shipped: they are counted one by one. Without,
 * the fingerprints give a lower bound and the window runs to now.
 */
export async function compareLive(
  ctx: OpsContext,
  resource: string,
  restored: RestoreResult,
  recovered: Fingerprint,
): Promise<DataLoss> {
  const live = await fingerprintOf(ctx, resource, 'source')
  const pointMs = Date.parse(restored.time)
  const estimate = compareFingerprints(live, recovered, Date.now() - pointMs)
  if (estimate.changes === 0) return estimate
  const generation = restored.snapshot.position.generation
  if (!ctx.resource(resource).capture || generation === undefined) return estimate
  const source = await ctx.openSource(resource)
  try {
    const capture = source.capture
    const position = await capture?.position()
    if (!capture || position?.generation !== generation) return estimate
    // Changes are numbered without holes within a generation, so the restored state ends at this seq.
    let after = (restored.snapshot.position.seq ?? 0) + restored.changes
    let changes = 0
    let newest = pointMs
    for (;;) {
      const read = await capture.read(generation, after, 10_000)
      if (read.broken) return estimate
      changes += read.changes.length
      for (const c of read.changes) newest = Math.max(newest, c.time)
      if (read.changes.length < 10_000) break
      after = read.changes.at(-1)!.seq
    }
    return { changes, windowMs: changes > 0 ? newest - pointMs : 0, exact: true, tables: estimate.tables }
  } finally {
    await source.close()
  }
}

/**
 * What `actual` lacks against `expected`, from fingerprints alone: a table whose content
 * differs counts its row difference, and at least one change. `windowMs` applies when
 * something differs.
 */
export function compareFingerprints(expected: Fingerprint, actual: Fingerprint, windowMs: number): DataLoss {
  const names = new Set([...Object.keys(expected.tables), ...Object.keys(actual.tables)])
  const tables: string[] = []
  let changes = 0
  for (const name of [...names].sort()) {
    const e = expected.tables[name]
    const a = actual.tables[name]
    if (e && a && e.rows === a.rows && e.hash === a.hash) continue
    tables.push(name)
    changes += Math.max(1, Math.abs((e?.rows ?? 0) - (a?.rows ?? 0)))
  }
  return { changes, windowMs: changes > 0 ? Math.max(0, windowMs) : 0, exact: changes === 0, tables }
}
