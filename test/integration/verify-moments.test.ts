/**
 * verify names the moments that damage makes unrecoverable, not only the objects: a
 * segment missing from the middle of a change chain, and a lost pack under the only
 * snapshot of a captured generation.
 */
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { VerifyResult } from '../../src/ops/verify.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

async function cli(dir: string, ...args: string[]) {
  const run = await runCli(args, { cwd: dir })
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0)
  return run
}

interface Timeline {
  window: { from: string; to: string }[]
}

/** A captured resource with three shipped segments. */
async function captured(): Promise<{ dir: string; segments: string[] }> {
  const dir = await tempDir()
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    capture: { interval: 1s }\n'))
  const db = new Database(join(dir, 'app.db'))
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  await cli(dir, 'init')
  await cli(dir, 'agent', '--once')
  for (let i = 0; i < 3; i++) {
    db.prepare('INSERT INTO t (v) VALUES (?)').run(`row ${i}`)
    await cli(dir, 'agent', '--once')
  }
  db.close()
  const generations = join(dir, 'repo', 'segments', 'app-db')
  const [generation] = await readdir(generations)
  const segments = (await readdir(join(generations, generation!))).sort().map((f) => join(generations, generation!, f))
  expect(segments).toHaveLength(3)
  return { dir, segments }
}

describe('verify: unrecoverable moments', () => {
  it('a segment missing from the middle of a chain: names the changes and the moments lost', async () => {
    const { dir, segments } = await captured()
    const before = (await cli(dir, 'timeline', 'app-db', '--json')).json<Timeline>()
    await rm(segments[1]!)
    const run = await runCli(['verify', '--json'], { cwd: dir })
    expect(run.code, run.stdout).toBe(1)
    const result = run.json<VerifyResult>()
    expect(result.ok).toBe(false)
    const hole = result.problems.find((p) => p.object.startsWith('segments/app-db/'))
    expect(hole?.problem, JSON.stringify(result.problems)).toMatch(/^changes \d+–\d+ of generation \S+ are missing$/)
    const [lost] = result.resources[0]!.unrecoverable
    expect(lost, JSON.stringify(result.resources)).toBeDefined()
    // Between the end of the first stretch and the end of the chain, inside what the timeline had.
    const window = before.window[0]!
    expect(Date.parse(lost!.from)).toBeGreaterThanOrEqual(Date.parse(window.from))
    expect(Date.parse(lost!.to)).toBeLessThanOrEqual(Date.parse(window.to))
    expect(Date.parse(lost!.to)).toBeGreaterThan(Date.parse(lost!.from))
    const text = await runCli(['verify'], { cwd: dir })
    expect(text.stdout).toMatch(/can no longer be restored exactly/)
  })

  it('a lost pack under the only snapshot of a generation: every moment from it on is unrecoverable', async () => {
    const { dir } = await captured()
    const before = (await cli(dir, 'timeline', 'app-db', '--json')).json<Timeline>()
    await rm(join(dir, 'repo', 'data'), { recursive: true })
    const run = await runCli(['verify', '--json'], { cwd: dir })
    expect(run.code).toBe(1)
    const [check] = run.json<VerifyResult>().resources
    expect(check!.damagedSnapshots).toHaveLength(1)
    expect(check!.unrecoverable).toEqual(before.window.map((w) => ({ from: w.from, to: w.to })))
    expect(check!.freshness).toMatchObject({ ok: true })
    expect(check!.findings[0]).toMatch(/^snapshots [0-9a-f]{8} cannot be restored$/)
  })
})
