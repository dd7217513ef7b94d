/**
 * `drkit report`: the evidence over a period (snapshots, verifications, drills with their
 * measured figures, failures and what resolved them) as JSON, markdown and one
 * self-contained HTML file, whose charts are checked in headless Chromium.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { chromium } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { ReportDocument } from '../../src/ops/report.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { writeDrillEvidence } from '../support/evidence.js'
import { tempDir } from '../support/tmp.js'

const day = 86_400_000
const ago = (ms: number) => new Date(Date.now() - ms).toISOString()

async function cli(dir: string, ...args: string[]) {
  const run = await runCli(args, { cwd: dir })
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0)
  return run
}

/** A resource with a snapshot, two verifications and four drills: one failed and later passed, one too old. */
async function withEvidence(): Promise<string> {
  const dir = await tempDir()
  await writeFile(
    join(dir, 'drkit.yaml'),
    sqlitePlan('    objectives: { rpo: 5m, rto: 15m }\n') +
      'drills:\n  - { name: app-db-pitr, resource: app-db, kind: pitr, every: monthly }\n',
  )
  new Database(join(dir, 'app.db')).exec('CREATE TABLE t (v); INSERT INTO t VALUES (1)').close()
  await cli(dir, 'init')
  await cli(dir, 'backup')
  await cli(dir, 'verify')
  await cli(dir, 'verify', '--read-data=50')
  const drill = (name: string, rto: number, rpo: number, lost: number) => ({
    name,
    kind: 'pitr' as const,
    resource: 'app-db',
    rto: { targetMs: 900_000, actualMs: rto },
    rpo: { targetMs: 300_000, actualMs: rpo, changesLost: lost },
  })
  await writeDrillEvidence(dir, [
    { time: ago(120 * day), ok: true, body: drill('app-db-pitr', 60_000, 0, 0) },
    { time: ago(60 * day), ok: true, body: drill('app-db-pitr', 240_000, 2000, 3) },
    {
      time: ago(30 * day),
      ok: false,
      body: { ...drill('app-db-pitr', 1_200_000, 4000, 9), reason: 'RTO 20m over the 15m objective' },
    },
    { time: ago(2 * day), ok: true, body: drill('app-db-pitr', 300_000, 1000, 1) },
  ])
  return dir
}

describe('drkit report', () => {
  it('gathers the evidence of the period, with failures and what resolved them', async () => {
    const dir = await withEvidence()
    const doc = (await cli(dir, 'report', '--json')).json<ReportDocument>()
    expect(doc.objectives).toEqual([
      { resource: 'app-db', type: 'sqlite', rpoMs: 300_000, rtoMs: 900_000, capture: false, schedule: undefined },
    ])
    expect(doc.backups[0]).toMatchObject({ resource: 'app-db', snapshots: 1 })
    expect(doc.verifications.map((v) => [v.ok, v.readDataPercent])).toEqual([
      [true, 0],
      [true, 50],
    ])
    // 90 days by default: the drill of 120 days ago is left out.
    expect(doc.drills.map((d) => d.rto.actualMs)).toEqual([240_000, 1_200_000, 300_000])
    expect(doc.drills[1]).toMatchObject({ ok: false, rpo: { actualMs: 4000, targetMs: 300_000, changesLost: 9 } })
    expect(doc.failures).toEqual([
      {
        time: doc.drills[1]!.time,
        kind: 'drill',
        subject: 'app-db-pitr',
        what: 'RTO 20m over the 15m objective',
        resolved: { time: doc.drills[2]!.time },
      },
    ])
    const longer = (await cli(dir, 'report', '--since', '180d', '--json')).json<ReportDocument>()
    expect(longer.drills).toHaveLength(4)

    const md = (await cli(dir, 'report')).stdout
    expect(md).toMatch(/^# Recovery evidence report$/m)
    expect(md).toMatch(
      /^\| .* \| app-db-pitr \| pitr \| app-db \| FAILED \| 20m \/ 15m \| 4s \/ 5m \| 9 \| RTO 20m over the 15m objective \|$/m,
    )
    expect(md).toMatch(/^\| .* \| drill \| app-db-pitr \| RTO 20m over the 15m objective \| passed again .* \|$/m)
    expect(md).toMatch(/3 drills \(2 passed\)/)

    for (const bad of [
      ['--format', 'pdf'],
      ['--since', 'last week'],
    ]) {
      const run = await runCli(['report', ...bad], { cwd: dir })
      expect(run.code, bad.join(' ')).toBe(2)
    }
  })

  it('writes one self-contained HTML file whose SVG charts render in headless Chromium without any request', async () => {
    const dir = await withEvidence()
    const html = (await cli(dir, 'report', '--format', 'html')).stdout
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i)
    expect(html).not.toMatch(/(src|href)=/i)
    const file = join(dir, 'report.html')
    await writeFile(file, html)

    const profile = await tempDir('drkit-chromium-')
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    try {
      const page = await context.newPage()
      const requests: string[] = []
      const failed: string[] = []
      page.on('request', (r) => requests.push(r.url()))
      page.on('requestfailed', (r) => failed.push(r.url()))
      await page.goto(`file://${file}`)
      await page.waitForLoadState('load')
      expect(requests).toEqual([`file://${file}`])
      expect(failed).toEqual([])

      const chart = (metric: string) => page.locator(`svg.chart[data-metric="${metric}"][data-resource="app-db"]`)
      for (const [metric, points] of [
        ['rto', 3],
        ['rpo', 3],
        ['freshness', 2],
      ] as const) {
        expect(await chart(metric).count(), metric).toBe(1)
        expect(await chart(metric).locator('circle.point').count(), metric).toBe(points)
        expect(await chart(metric).locator('line.objective').count(), metric).toBe(1)
        const box = await chart(metric).boundingBox()
        expect(box!.width, metric).toBeGreaterThan(100)
        expect(box!.height, metric).toBeGreaterThan(50)
      }
      // The failed drill's point breaches the 15m objective: drawn above the objective line, in red.
      const rto = chart('rto')
      const objectiveY = Number(await rto.locator('line.objective').getAttribute('y1'))
      const breach = rto.locator('circle.point.breach')
      expect(await breach.count()).toBe(1)
      expect(Number(await breach.getAttribute('cy'))).toBeLessThan(objectiveY)
      // The page's own window: the test's tsconfig has no DOM types.
      const fill = await breach.evaluate(
        (c) => (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(c).fill,
      )
      expect(fill).toBe('rgb(180, 35, 24)')
      expect(await page.locator('h2', { hasText: 'Failures and their resolution' }).count()).toBe(1)
    } finally {
      await context.close()
    }
  })
})
