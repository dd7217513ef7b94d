/**
 * Drills on SQLite through the built CLI: each built-in kind end to end, reports kept as
 * evidence and listed by `drkit drills`, RTO against a step of known delay, RPO against a
 * capture that is deliberately behind, failing drills that say why, and
 * `verify --restore-test`.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { DrillReport } from '../../src/drills/index.js'
import { tempDir } from '../support/tmp.js'
import { drill, drkit, ok, pitrDrillSteps, sqliteApp, stepSummary } from './drill-support.js'

describe('built-in drills on SQLite', () => {
  it('restore-test restores the newest state, checks it and finds nothing lost', async () => {
    const dir = await sqliteApp('  - { name: weekly-restore, resource: app-db, kind: restore-test, every: weekly }\n')
    const { code, doc } = await drill(dir, 'weekly-restore')
    expect(code).toBe(0)
    const [report] = doc.reports
    expect(stepSummary(report!)).toEqual(['restore ok', 'verify ok', 'compare ok'])
    expect(report).toMatchObject({
      ok: true,
      kind: 'restore-test',
      resource: 'app-db',
      environment: { kind: 'scratch' },
      rto: { targetMs: 900_000, met: true },
      rpo: { targetMs: 5000, actualMs: 0, changesLost: 0, exact: true, met: true },
    })
    expect(report!.rto.actualMs).toBeGreaterThanOrEqual(report!.steps[0]!.durationMs)
    // The scratch copy is gone.
    const target = Object.values(report!.environment.targets)[0]!
    expect(target.startsWith(dir)).toBe(false)
    await expect(import('node:fs/promises').then((fs) => fs.stat(target))).rejects.toThrow()

    const listed = (await ok(dir, 'drills', '--json')).json<{ drills: Record<string, unknown>[] }>().drills
    expect(listed).toEqual([
      expect.objectContaining({
        name: 'weekly-restore',
        every: 'weekly',
        due: false,
        last: expect.objectContaining({ ok: true, time: report!.finished }),
        nextDue: new Date(Date.parse(report!.finished) + 7 * 86_400_000).toISOString(),
      }),
    ])
  })

  it('pitr recovers the moment before the fault and the bookmark exactly', async () => {
    const dir = await sqliteApp('  - { name: pitr, resource: app-db, kind: pitr }\n')
    const { code, doc, run } = await drill(dir, 'pitr')
    expect(code, run.stderr).toBe(0)
    const [report] = doc.reports
    expect(stepSummary(report!)).toEqual(pitrDrillSteps)
    expect(report!.rpo).toMatchObject({ changesLost: 0, actualMs: 0, met: true })
    // RTO runs from the fault to the verified copy: at least the restore and verify steps in between.
    const [fault, restore, verify] = [report!.steps[6]!, report!.steps[7]!, report!.steps[8]!]
    expect(report!.rto.actualMs).toBeGreaterThanOrEqual(restore.durationMs + verify.durationMs)
    expect(Date.parse(report!.rto.faultAt!)).toBeGreaterThanOrEqual(Date.parse(fault.started))
  })

  it('corruption-undo puts the corrupted rows back and keeps the later good writes', async () => {
    const dir = await sqliteApp(
      '  - name: tenant-corruption\n    resource: app-db\n    kind: corruption-undo\n' +
        `    fault: { sql: "UPDATE tenants SET plan = 'CORRUPTED' WHERE id = 't1'" }\n`,
    )
    const { code, doc } = await drill(dir, 'tenant-corruption')
    expect(code).toBe(0)
    const report = doc.reports[0]!
    const undo = report.steps.find((s) => s.kind === 'undo')!
    expect(undo.detail).toMatch(/^1 rows put back \(1 updated/)
    expect(report.rpo).toMatchObject({ changesLost: 0, met: true })
    // The live database was never touched.
    const live = new Database(join(dir, 'app.db'), { readonly: true })
    expect(live.prepare("SELECT plan FROM tenants WHERE id = 't1'").pluck().get()).toBe('team')
    live.close()
  })

  it('custom steps bookmark, inject a fault, restore to before it and assert', async () => {
    const dir = await sqliteApp(`  - name: orders-wiped
    resource: app-db
    kind: custom
    steps:
      - bookmark: pre
      - fault: { sql: "DELETE FROM orders" }
      - assert: { sql: "SELECT count(*) FROM orders", equals: 0 }
      - restore: { at: before-fault }
      - assert: { sql: "SELECT count(*) FROM orders", equals: 45 }
      - assert: { fingerprint: pre }
`)
    const { code, doc } = await drill(dir, 'orders-wiped')
    expect(code).toBe(0)
    expect(stepSummary(doc.reports[0]!)).toEqual([
      'restore ok',
      'verify ok',
      'prepare ok',
      'bookmark ok',
      'fault ok',
      'assert ok',
      'restore ok',
      'assert ok',
      'assert ok',
    ])
    expect(doc.reports[0]!.rpo).toMatchObject({ changesLost: 0, met: true })
  })

  it('full-recovery restores every resource, then runs the health checks with the targets in the environment', async () => {
    const dir = await sqliteApp(`  - name: everything
    kind: full-recovery
    steps:
      - exec: test -s "$DRKIT_TARGET_APP_DB"
`)
    const { code, doc } = await drill(dir, '--all')
    expect(code).toBe(0)
    expect(stepSummary(doc.reports[0]!)).toEqual(['restore ok', 'verify ok', 'exec ok', 'compare ok'])
    // Objectives come from the resources it recovers.
    expect(doc.reports[0]!.rto.targetMs).toBe(900_000)
  })

  it('measures RTO from the fault to the verified recovery: at least a known delay in between', async () => {
    const dir = await sqliteApp(`  - name: slow
    resource: app-db
    kind: custom
    objectives: { rto: 1m }
    steps:
      - fault: { sql: "DELETE FROM orders" }
      - wait: 1500ms
      - restore: {}
      - assert: { fingerprint: before-fault }
`)
    const { code, doc } = await drill(dir, 'slow')
    expect(code).toBe(0)
    const report = doc.reports[0]!
    expect(report.rto.targetMs).toBe(60_000)
    expect(report.rto.actualMs).toBeGreaterThanOrEqual(1500)
    expect(report.rpo.changesLost).toBe(0)
  })

  it('measures RPO against a capture that is deliberately behind, and fails the objective', async () => {
    const dir = await sqliteApp('  - { name: behind, resource: app-db, kind: restore-test }\n', '{ rpo: 1s, rto: 15m }')
    // Shipped at `agent --once`; five commits after that stay unshipped, over a second later.
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const db = new Database(join(dir, 'app.db'))
    for (let i = 0; i < 5; i++) db.prepare("INSERT INTO tenants VALUES (?, 'late', 'team')").run(`late${i}`)
    db.close()
    const { code, doc } = await drill(dir, 'behind')
    expect(code).toBe(1)
    const report = doc.reports[0]!
    expect(report.rpo).toMatchObject({ changesLost: 5, exact: true, met: false, targetMs: 1000 })
    expect(report.rpo.actualMs).toBeGreaterThanOrEqual(1200)
    expect(report.issues.join('\n')).toMatch(/RPO \S+ is over the objective of 1s: 5 committed changes lost/)
  })

  it('fails a drill whose objective cannot be met or whose assertion does not hold, and says why', async () => {
    const dir = await sqliteApp(`  - name: too-slow
    resource: app-db
    kind: custom
    objectives: { rto: 100ms }
    steps:
      - fault: { sql: "DELETE FROM orders" }
      - wait: 300ms
      - restore: {}
  - name: wrong-count
    resource: app-db
    kind: custom
    steps:
      - assert: { sql: "SELECT count(*) FROM tenants", equals: 99 }
      - wait: 10ms
`)
    const { code, doc, run } = await drill(dir, 'too-slow', 'wrong-count')
    expect(code).toBe(1)
    const [slow, wrong] = doc.reports
    expect(slow).toMatchObject({ ok: false, rto: { targetMs: 100, met: false } })
    expect(slow!.issues).toEqual([expect.stringMatching(/^RTO \S+ is over the objective of 100ms$/)])
    expect(wrong!.ok).toBe(false)
    expect(stepSummary(wrong!)).toEqual(['restore ok', 'verify ok', 'assert FAILED'])
    expect(wrong!.issues[0]).toContain('assertion failed: SELECT count(*) FROM tenants returned 3, expected 99')
    expect(wrong!.reason).toBe(wrong!.issues.join('; '))

    // The markdown drill log says the same.
    const text = await drkit(dir, 'drill', 'wrong-count')
    expect(text.code).toBe(1)
    expect(text.stdout).toContain('# Drill log: wrong-count')
    expect(text.stdout).toContain('| Result | **FAIL** |')
    expect(text.stdout).toContain('returned 3, expected 99')
    expect(run.stderr).toBe('')
    const listed = (await ok(dir, 'drills', '--json')).json<{ drills: { name: string; last?: { ok: boolean } }[] }>()
    expect(listed.drills.map((d) => [d.name, d.last?.ok])).toEqual([
      ['too-slow', false],
      ['wrong-count', false],
    ])
  })

  it('runs on a staging resource instead of a scratch copy, and leaves it restored', async () => {
    const dir = await sqliteApp(
      '  - { name: on-staging, resource: app-db, staging: app-db-staging, kind: restore-test }\n',
      undefined,
      '  app-db-staging:\n    type: sqlite\n    path: ./staging.db\n',
    )
    const { code, doc } = await drill(dir, 'on-staging')
    expect(code).toBe(0)
    expect(doc.reports[0]!.environment).toMatchObject({
      kind: 'staging',
      staging: 'app-db-staging',
      targets: { 'app-db': join(dir, 'staging.db') },
    })
    const staging = new Database(join(dir, 'staging.db'), { readonly: true })
    expect(staging.prepare('SELECT count(*) FROM orders').pluck().get()).toBe(45)
    staging.close()
  })

  it('verify --restore-test restores each resource into a scratch target and checks it', async () => {
    const dir = await sqliteApp('')
    const run = await ok(dir, 'verify', '--restore-test', '--json')
    const doc = run.json<{ ok: boolean; restoreTests: Record<string, unknown>[] }>()
    expect(doc.ok).toBe(true)
    expect(doc.restoreTests).toEqual([
      expect.objectContaining({ resource: 'app-db', ok: true, mismatches: [], changes: 0 }),
    ])
    const target = doc.restoreTests[0]!.target as string
    await expect(import('node:fs/promises').then((fs) => fs.stat(target))).rejects.toThrow()
  })
})

describe('drkit demo', () => {
  it('ends with a drill and its report', async () => {
    const dir = await tempDir('drkit-demo-run-')
    const run = await ok(dir, 'demo', '--json')
    const doc = run.json<{ recovered: boolean; drill: DrillReport }>()
    expect(doc.recovered).toBe(true)
    expect(doc.drill).toMatchObject({ name: 'app-db-pitr', kind: 'pitr', ok: true, rpo: { changesLost: 0 } })
    const text = await ok(dir, 'demo')
    expect(text.stdout).toContain('# Drill log: app-db-pitr')
    expect(text.stdout).toContain('| Result | **PASS** |')
  })
})
