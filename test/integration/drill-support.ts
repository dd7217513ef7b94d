/** Helpers for the drill tests: a SQLite application protected by drkit, and the CLI with --json. */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { createSampleApp } from '../../src/demo/sample-app.js'
import type { DrillReport } from '../../src/drills/index.js'
import { type CliRun, runCli } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

export interface DrillDoc {
  ok: boolean
  reports: DrillReport[]
}

export const drkit = (dir: string, ...args: string[]): Promise<CliRun> => runCli(args, { cwd: dir })

/** Runs drkit and expects exit 0. */
export async function ok(dir: string, ...args: string[]): Promise<CliRun> {
  const run = await drkit(dir, ...args)
  expect(run.code, `drkit ${args.join(' ')}\n${run.stderr}${run.stdout}`).toBe(0)
  return run
}

/** Runs `drkit drill ... --json` and returns the exit code and the reports. */
export async function drill(
  dir: string,
  ...args: string[]
): Promise<{ code: number | null; doc: DrillDoc; run: CliRun }> {
  const run = await drkit(dir, 'drill', ...args, '--json')
  let doc: DrillDoc
  try {
    doc = run.json<DrillDoc>()
  } catch {
    throw new Error(`drkit drill ${args.join(' ')} printed no JSON (exit ${run.code}):\n${run.stdout}${run.stderr}`)
  }
  return { code: run.code, doc, run }
}

/**
 * A folder with the sample application database (app.db) protected as `app-db` with
 * capture, a snapshot taken and capture shipped once; `drills` is the plan's drills section.
 */
export async function sqliteApp(
  drills: string,
  objectives = '{ rpo: 5s, rto: 15m }',
  /** More resources, as YAML lines under `resources:`. */
  resources = '',
): Promise<string> {
  const dir = await tempDir('drkit-drill-')
  createSampleApp(join(dir, 'app.db'), { tenants: 3, usersPerTenant: 5 })
  await writeFile(
    join(dir, 'drkit.yaml'),
    'repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ./app.db\n' +
      `    objectives: ${objectives}\n    capture: { interval: 1s }\n${resources}drills:${drills ? `\n${drills}` : ' []\n'}`,
  )
  await ok(dir, 'init')
  await ok(dir, 'agent', '--once')
  return dir
}

/** The steps of a passing pitr drill, as `stepSummary` gives them, whatever the source. */
export const pitrDrillSteps = [
  'restore ok',
  'verify ok',
  'prepare ok',
  'write ok',
  'bookmark ok',
  'write ok',
  'fault ok',
  'restore ok',
  'verify ok',
  'assert ok',
]

/** The report's step kinds and results, in order: `restore ok`, `fault ok`, ... */
export function stepSummary(report: DrillReport): string[] {
  return report.steps.map((s) => `${s.kind} ${s.ok ? 'ok' : 'FAILED'}`)
}
