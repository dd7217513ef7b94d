/**
 * Damage to captured changes: a deleted segment (a hole in a generation's chain), a flipped
 * bit and a truncated segment. verify reports exactly that damage, naming the object, the
 * generation and the moments it makes unrecoverable, and nothing else. (Damage to packs,
 * index files and manifests: damage.test.ts.)
 */
import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openContext } from '../../src/ops/context.js'
import { verify } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository, type SegmentRef } from '../../src/repository/index.js'
import { runCli } from '../support/cli.js'
import { writePitrPlan } from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

let fixture: { dir: string; segments: SegmentRef[] }

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'drkit-faults-damage-'))
  const db = new Database(join(dir, 'app.db'))
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT, v)')
  await writePitrPlan(dir)
  expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
  // Each bookmark ships what was written before it: one segment per round.
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5; i++) db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)').run(`r${round}`, i)
    const run = await runCli(['bookmark', 'app-db', `b${round}`], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
  }
  db.close()
  const repository = await Repository.open(await openFsBackend(join(dir, 'repo')))
  fixture = { dir, segments: await repository.listSegments('app-db') }
  expect(fixture.segments.length).toBeGreaterThanOrEqual(3)
}, 60_000)

afterAll(() => rm(fixture.dir, { recursive: true, force: true }))

/** A copy of the fixture's folder (plan, database, repository) to damage. */
async function copy(): Promise<{ dir: string; repo: string }> {
  const dir = await tempDir('drkit-faults-damage-case-')
  await cp(fixture.dir, dir, { recursive: true })
  await writePitrPlan(dir)
  return { dir, repo: join(dir, 'repo') }
}

async function check(dir: string, readData: boolean) {
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  try {
    return await verify(ctx, { readData })
  } finally {
    await ctx.close()
  }
}

const iso = (ms: number) => new Date(ms).toISOString()

describe('damage to segments', () => {
  it('a deleted segment: a hole named with its generation, changes and moments', async () => {
    const { dir, repo } = await copy()
    const [before, gone, after] = fixture.segments.slice(0, 3) as [SegmentRef, SegmentRef, SegmentRef]
    await unlink(join(repo, gone.key))
    const result = await check(dir, false)
    expect(result.ok).toBe(false)
    expect(result.problems).toEqual([
      {
        object: `segments/app-db/${gone.generation}/`,
        problem: expect.stringContaining(
          `changes ${before.last + 1}–${after.first - 1} of generation ${gone.generation} are missing`,
        ),
        snapshots: [],
        moments: { from: iso(before.lastTime), to: iso(Math.max(...fixture.segments.map((s) => s.lastTime), 0)) },
      },
    ])
    // Nothing is wrong with the rest: the run with --read-data finds the same and nothing more.
    expect((await check(dir, true)).problems).toHaveLength(1)
  })

  it('a flipped bit in a segment: found by --read-data, naming the segment', async () => {
    const { dir, repo } = await copy()
    const target = fixture.segments[1]!
    const bytes = await readFile(join(repo, target.key))
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10
    await writeFile(join(repo, target.key), bytes)
    expect((await check(dir, false)).problems).toEqual([])
    const problems = (await check(dir, true)).problems
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ object: target.key, problem: expect.stringMatching(/does not match its hash/) })
    expect(problems[0]!.moments!.from).toBe(iso(fixture.segments[0]!.lastTime))
  })

  it('a truncated segment: found by --read-data, naming the segment', async () => {
    const { dir, repo } = await copy()
    const target = fixture.segments.at(-1)!
    await truncate(join(repo, target.key), 10)
    const problems = (await check(dir, true)).problems
    expect(problems).toHaveLength(1)
    expect(problems[0]!.object).toBe(target.key)
  })
})
