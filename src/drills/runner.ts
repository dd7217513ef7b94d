import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OpsContext } from '../ops/context.js'
import { findDrill, recordDrillReport } from '../ops/drill.js'
import type { Drill, Objectives } from '../plan/index.js'
import { judge } from './judge.js'
import type { DrillReport, DrillStepReport } from './report.js'
import { DrillRun, StepFailedError } from './run.js'
import { recoveredResources } from './scenarios/full-recovery.js'
import { scenarios } from './scenarios/index.js'

export interface RunDrillOptions {
  signal?: AbortSignal
  /** Called as each step ends, for progress. */
  onStep?: (step: DrillStepReport) => void
  /** Store the report as evidence in the repository (default true). */
  record?: boolean
}

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

/**
 * Runs one drill of the plan (by name or as given) and returns its report, stored as
 * evidence in the repository. A drill that cannot run as written (unknown resource, a
 * kind its type cannot do) is a PlanError before anything is touched; a drill that ran
 * and failed is a report with `ok: false` and its issues. Scratch targets are removed
 * whatever happens.
 *
 * @example
 * const report = await runDrill(await openContext(), 'app-db-pitr')
 * if (!report.ok) console.error(report.issues.join('\n'))
 */
export async function runDrill(
  ctx: OpsContext,
  drill: Drill | string,
  opts: RunDrillOptions = {},
): Promise<DrillReport> {
  const spec = typeof drill === 'string' ? findDrill(ctx, drill) : drill
  const scenario = scenarios[spec.kind]
  await scenario.check(spec, ctx)
  const dir = await mkdtemp(join(tmpdir(), `drkit-drill-${spec.name}-`))
  const run = new DrillRun(ctx, spec, dir, opts.signal, opts.onStep ?? (() => {}))
  const started = new Date()
  try {
    await scenario.run(run)
  } catch (err) {
    run.failed = true
    if (!(err instanceof StepFailedError)) run.issues.push(`the drill stopped: ${(err as Error).message}`)
  } finally {
    await run.cleanup()
    await rm(dir, { recursive: true, force: true })
  }
  const finished = new Date()
  const verdict = judge(objectivesOf(ctx, spec), {
    faultAt: run.fault?.wall,
    recoveredAt: run.recovered?.wall,
    rtoMs: run.fault && run.recovered ? run.recovered.at - run.fault.at : undefined,
    loss: run.loss,
    stepsOk: !run.failed,
  })
  const report: DrillReport = {
    version: 1,
    name: spec.name,
    kind: spec.kind,
    ...(spec.resource !== undefined && { resource: spec.resource }),
    environment: {
      kind: spec.staging !== undefined ? 'staging' : 'scratch',
      ...(spec.staging !== undefined && { staging: spec.staging }),
      targets: run.targets,
      host: hostname(),
      drkitVersion: version,
    },
    started: started.toISOString(),
    finished: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    ok: verdict.ok,
    rto: verdict.rto,
    rpo: verdict.rpo,
    steps: run.steps,
    issues: [...run.issues, ...verdict.issues],
  }
  if (!report.ok) report.reason = report.issues.join('; ') || 'a step failed'
  if (opts.record !== false) await recordDrillReport(ctx, report)
  return report
}

/**
 * The objectives a drill is judged by: its own, field by field over its resource's; for a
 * full recovery without a resource, the strictest of the resources it recovers.
 */
export function objectivesOf(ctx: OpsContext, drill: Drill): Objectives {
  const names =
    drill.resource !== undefined
      ? [drill.resource]
      : drill.kind === 'full-recovery'
        ? recoveredResources(drill, Object.keys(ctx.plan.resources))
        : []
  const strictest = (key: keyof Objectives) => {
    const values = names.map((n) => ctx.plan.resources[n]?.objectives[key]).filter((v) => v !== undefined)
    return values.length > 0 ? Math.min(...values) : undefined
  }
  const merged: Objectives = {
    rtoMs: drill.objectives.rtoMs ?? strictest('rtoMs'),
    rpoMs: drill.objectives.rpoMs ?? strictest('rpoMs'),
  }
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined))
}
