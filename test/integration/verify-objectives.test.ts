/**
 * verify beyond damage: freshness of the newest recoverable point against the RPO, coverage
 * of a snapshot schedule ("no snapshot for 2026-02-14"), the result kept as evidence, and
 * `--read-data=PERCENT` reading a random share of the packs, a different one each run.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan, type OpsContext, openContext } from '../../src/ops/context.js'
import { type VerifyEvidence, type VerifyResult, verify } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import type { Backend } from '../../src/repository/backends/index.js'
import { Repository } from '../../src/repository/index.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

const dayMs = 86_400_000

async function setUp(extra: string): Promise<string> {
  const dir = await tempDir()
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan(extra))
  const db = new Database(join(dir, 'app.db'))
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  db.close()
  const init = await runCli(['init'], { cwd: dir })
  expect(init.code, init.stderr).toBe(0)
  return dir
}

describe('verify: freshness and coverage', () => {
  it('passes a fresh, covered resource and keeps the result as evidence', async () => {
    const dir = await setUp('    objectives: { rpo: 1h }\n    snapshots: { schedule: "30 0 * * *" }\n')
    expect((await runCli(['backup'], { cwd: dir })).code).toBe(0)
    const run = await runCli(['verify', '--json'], { cwd: dir })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const result = run.json<VerifyResult>()
    expect(result).toMatchObject({ ok: true, objectivesMet: true, readDataPercent: 0 })
    const [check] = result.resources
    expect(check).toMatchObject({
      resource: 'app-db',
      ok: true,
      unrecoverable: [],
      freshness: { ok: true, rpoMs: 3_600_000 },
    })
    expect(check!.coverage).toMatchObject({ schedule: '30 0 * * *', missing: [], ok: true })

    const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
    try {
      const records = await (await ctx.repository()).listEvidence<VerifyEvidence>('verify', { resource: 'app-db' })
      expect(records.map((r) => r.id)).toEqual(result.evidence.stored)
      expect(records[0]).toMatchObject({ kind: 'verify', resource: 'app-db', ok: true })
      expect(records[0]!.body.check.freshness.newest).toBe(check!.freshness.newest)
    } finally {
      await ctx.close()
    }
  })

  it('names the days without a scheduled snapshot and a newest point older than the RPO; stores the failure', async () => {
    const dir = await setUp('    objectives: { rpo: 1h }\n    snapshots: { schedule: "30 0 * * *" }\n')
    const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
    try {
      const { snapshot } = await backup(ctx, 'app-db')
      // Three and a half days later, with no snapshot since.
      const taken = Date.parse(snapshot.time)
      const now = new Date(Math.floor(taken / dayMs) * dayMs + 3 * dayMs + 12 * 3_600_000)
      const result = await verify(ctx, { now })
      expect(result.ok).toBe(true)
      expect(result.objectivesMet).toBe(false)
      const check = result.resources[0]!
      const days = [1, 2, 3].map((n) =>
        new Date(Math.floor(taken / dayMs) * dayMs + n * dayMs).toISOString().slice(0, 10),
      )
      expect(check.coverage!.missing).toEqual(days)
      expect(check.findings).toContain(`no snapshot for ${days[0]} (schedule "30 0 * * *")`)
      expect(check.freshness.ok).toBe(false)
      // Noon three days on: 2d12h to 3d12h after the snapshot, depending on the time of day it was taken.
      expect(check.findings.join('\n')).toMatch(/the newest recoverable point is [23]d\d*h?.* old, over the RPO of 1h/)
      const [record] = await (await ctx.repository()).listEvidence<VerifyEvidence>('verify', { since: now })
      expect(record).toMatchObject({ ok: false, time: now.toISOString() })
      expect(record!.body.check.coverage!.missing).toEqual(days)
    } finally {
      await ctx.close()
    }
  })

  it('exits 1 through the CLI when the RPO is missed, saying by how much', async () => {
    const dir = await setUp('    objectives: { rpo: 1ms }\n')
    expect((await runCli(['backup'], { cwd: dir })).code).toBe(0)
    const run = await runCli(['verify'], { cwd: dir })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^ok: 1 snapshots/)
    expect(run.stdout).toMatch(/app-db: newest recoverable point .*\(RPO 1ms\)/)
    expect(run.stdout).toMatch(/the newest recoverable point is .* old, over the RPO of 1ms/)
  })
})

describe('verify --read-data=PERCENT', () => {
  it('reads a random share of the packs, a different one each run, so that repeated runs read them all', async () => {
    const dir = await setUp('')
    const app = new Database(join(dir, 'app.db'))
    const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
    try {
      for (let i = 0; i < 12; i++) {
        app.prepare('INSERT INTO t (v) VALUES (?)').run(`${i}:${'x'.repeat(20_000)}${Math.random()}`)
        await backup(ctx, 'app-db')
      }
    } finally {
      await ctx.close()
      app.close()
    }
    const reads: string[][] = []
    const recording = await recordingContext(dir, reads)
    const seen = new Set<string>()
    let packs = 0
    try {
      for (let run = 0; run < 60; run++) {
        reads.length = 0
        reads.push([])
        const result = await verify(recording, { readData: 25, store: false })
        expect(result.ok).toBe(true)
        packs = result.packs
        const read = reads[0]!.filter((k) => k.startsWith('data/'))
        expect(read).toHaveLength(Math.ceil(packs * 0.25))
        for (const key of read) seen.add(key)
      }
    } finally {
      await recording.close()
    }
    expect(packs).toBeGreaterThanOrEqual(12)
    expect(seen.size).toBe(packs)

    const cli = await runCli(['verify', '--read-data=25', '--json'], { cwd: dir })
    expect(cli.code, cli.stderr).toBe(0)
    const result = cli.json<VerifyResult>()
    expect(result.readDataPercent).toBe(25)
    expect(result.bytesRead).toBeGreaterThan(0)
    const all = (await runCli(['verify', '--read-data', '--json'], { cwd: dir })).json<VerifyResult>()
    expect(all.readDataPercent).toBe(100)
    expect(result.bytesRead).toBeLessThan(all.bytesRead)
    for (const bad of ['0', '101', 'lots']) {
      const run = await runCli(['verify', `--read-data=${bad}`], { cwd: dir })
      expect(run.code, bad).toBe(2)
      expect(run.stderr).toMatch(/expected a percentage/)
    }
  })
})

/** A context whose repository records every whole-object read (ranges are the structure check's). */
async function recordingContext(dir: string, reads: string[][]): Promise<OpsContext> {
  const base = contextFromPlan((await openContext({ config: join(dir, 'drkit.yaml') })).plan)
  const fs = await openFsBackend(join(dir, 'repo'))
  const backend: Backend = {
    ...fs,
    kind: fs.kind,
    location: fs.location,
    get: (key, opts) => {
      if (!opts?.range) reads.at(-1)?.push(key)
      return fs.get(key, opts)
    },
    put: (key, body, opts) => fs.put(key, body, opts),
    stat: (key) => fs.stat(key),
    list: (prefix, opts) => fs.list(prefix, opts),
    delete: (key) => fs.delete(key),
    close: () => fs.close(),
  }
  const repository = Repository.open(backend)
  return { ...base, repository: () => repository, close: async () => (await repository).close() }
}
