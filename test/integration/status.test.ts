/**
 * `drkit status` through the built CLI: the newest recoverable point against the RPO, the
 * window, the last verification and drill, a predicted RTO from measured drills (or
 * "unknown"), overdue drills; one line per problem and exit 1 on a breached objective.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { StatusReport } from '../../src/ops/status.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { writeDrillEvidence } from '../support/evidence.js'
import { tempDir } from '../support/tmp.js'

const drills = `drills:
  - name: app-db-pitr
    resource: app-db
    kind: pitr
    every: quarterly
`

async function setUp(objectives: string): Promise<string> {
  const dir = await tempDir()
  await writeFile(
    join(dir, 'drkit.yaml'),
    sqlitePlan(`    objectives: ${objectives}\n    capture: { interval: 1s }\n`) + drills,
  )
  const db = new Database(join(dir, 'app.db'))
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')")
  db.close()
  // Drills are left out: the tests write the drill results they need as evidence.
  for (const args of [['init'], ['agent', '--once', '--no-drills']]) {
    const run = await runCli(args, { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
  }
  return dir
}

async function statusOf(dir: string): Promise<{ code: number | null; report: StatusReport; text: string }> {
  const json = await runCli(['status', '--json'], { cwd: dir })
  const text = await runCli(['status'], { cwd: dir })
  expect(json.code).toBe(text.code)
  return { code: json.code, report: json.json<StatusReport>(), text: text.stdout }
}

/** Drills run after the snapshots they restore: times just before now, after the set-up's snapshot. */
const ago = (ms: number) => new Date(Date.now() - ms).toISOString()

describe('drkit status', () => {
  it('reports objectives against reality; unmeasured RTO and drills never run are warnings, not breaches', async () => {
    const dir = await setUp('{ rpo: 1h, rto: 15m }')
    const { code, report, text } = await statusOf(dir)
    expect(code, text).toBe(0)
    expect(report.ok).toBe(true)
    const [app] = report.resources
    expect(app).toMatchObject({ resource: 'app-db', type: 'sqlite', capture: true, snapshots: 1, measurements: 0 })
    expect(app!.predictedRtoMs).toBeUndefined()
    expect(app!.ageMs).toBeLessThan(3_600_000)
    expect(Date.parse(app!.window!.to)).toBe(Date.parse(app!.newest!))
    expect(report.drills).toEqual([expect.objectContaining({ name: 'app-db-pitr', every: 'quarterly', overdue: true })])
    expect(report.problems.map((p) => [p.severity, p.event ?? null])).toEqual([
      ['warning', null],
      ['warning', null],
      ['warning', 'drill.overdue'],
    ])
    expect(text).toMatch(/predicted restore time unknown/)
    expect(text).toMatch(/^warning drill app-db-pitr has never run \(quarterly\)$/m)
    expect(text).toMatch(/^warning app-db: never verified/m)
  })

  it('shows the last verification and drill, and predicts the RTO from measured drills', async () => {
    const dir = await setUp('{ rpo: 1h, rto: 15m }')
    expect((await runCli(['verify'], { cwd: dir })).code).toBe(0)
    await writeDrillEvidence(dir, [
      { time: ago(1), ok: true, body: { name: 'app-db-pitr', resource: 'app-db', rto: { actualMs: 4000 } } },
      {
        time: ago(0),
        ok: true,
        body: { name: 'app-db-pitr', kind: 'pitr', resource: 'app-db', rto: { targetMs: 900_000, actualMs: 2000 } },
      },
    ])
    const { code, report, text } = await statusOf(dir)
    expect(code, text).toBe(0)
    const [app] = report.resources
    expect(app!.lastVerify).toMatchObject({ ok: true })
    expect(app!.lastDrill).toMatchObject({ name: 'app-db-pitr', ok: true, rtoMs: 2000 })
    // The same size as when measured: the median of the two measured throughputs (4s and 2s).
    expect(app!.measurements).toBe(2)
    expect(app!.predictedRtoMs).toBe(2000)
    expect(report.drills[0]).toMatchObject({ overdue: false, lastOk: true })
    expect(report.problems).toEqual([])
    expect(text).toMatch(/predicted restore 2s \(from 2 drills\)/)
    expect(text).toMatch(/drill {6}app-db-pitr .* passed, RTO 2s/)
    expect(text).toMatch(/no problems/)
  })

  it('exits 1 with one line per breach: RPO, a failed drill, an RTO over its objective', async () => {
    const dir = await setUp('{ rpo: 1ms, rto: 1s }')
    await writeDrillEvidence(dir, [
      {
        time: ago(0),
        ok: false,
        body: {
          name: 'app-db-pitr',
          resource: 'app-db',
          rto: { actualMs: 5000 },
          reason: 'RTO 5s over the 1s objective',
        },
      },
    ])
    const { code, report, text } = await statusOf(dir)
    expect(code).toBe(1)
    expect(report.ok).toBe(false)
    const breaches = report.problems.filter((p) => p.severity === 'breach')
    expect(breaches.map((p) => p.event ?? null)).toEqual(['rpo.breached', null, null, 'drill.failed'])
    expect(text).toMatch(/^BREACH {2}app-db: the newest recoverable point is .* old, over the RPO of 1ms$/m)
    expect(text).toMatch(/^BREACH {2}app-db: the last drill \(app-db-pitr, .*\) took 5s, over the RTO of 1s$/m)
    expect(text).toMatch(
      /^BREACH {2}app-db: a restore is predicted to take 5s at the current size, over the RTO of 1s$/m,
    )
    expect(text).toMatch(/^BREACH {2}drill app-db-pitr failed on .*: RTO 5s over the 1s objective$/m)
    expect(text).toMatch(/^status at .*: OBJECTIVES BREACHED$/m)
  })
})
