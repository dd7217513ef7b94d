/**
 * kill -9 of `drkit forget` at seeded random moments, alone and while two agents (two
 * plans, one repository) ship changes: after every kill the repository verifies with
 * --read-data, every snapshot still listed restores to exactly the state it was taken
 * from, and every bookmark inside the PITR window restores exactly. (kill -9 during a
 * backup: crash.test.ts; of an agent while it ships: pitr-crash.test.ts.)
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { verify } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { readLocks, startCli } from '../support/fault-cli.js'
import { loadTestPlan } from '../support/fault-context.js'
import { createDb, type Fingerprint, fingerprint, mutateDb, rowsOf, seededRandom } from '../support/fault-db.js'
import { liveFingerprint, targetFingerprint, waitFor } from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

const seed = Number(process.env.DRKIT_TEST_SEED ?? 90210)
const why = `(seed ${seed}; rerun with DRKIT_TEST_SEED=${seed})`

describe('forget killed with SIGKILL at random moments', () => {
  it('leaves a repository that verifies, with every remaining snapshot whole', { timeout: 120_000 }, async () => {
    const rng = seededRandom(seed)
    const dir = await tempDir('drkit-faults-kill-')
    const db = join(dir, 'app.db')
    createDb(db, { seed, sizeMiB: 2 })
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 1 }\n'))
    // Small packs: a prune then deletes, repacks and rewrites many objects, so kills land between them.
    await Repository.init(await openFsBackend(join(dir, 'repo'), { create: true }), { packSize: 32 * 1024 })
    const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
    const states = new Map<number, Fingerprint>()
    const snapshot = async (note: string) => {
      mutateDb(db, rng, note, { share: 0.3 })
      const print = fingerprint(db)
      states.set(print.tables.generation!.rows, print)
      const ctx = contextFromPlan(plan)
      await backup(ctx, 'app-db')
      await ctx.close()
    }

    await snapshot('first')
    await snapshot('measured')
    const started = performance.now()
    const measured = await runCli(['forget'], { cwd: dir })
    expect(measured.code, measured.stderr).toBe(0)
    const durationMs = performance.now() - started

    let kills = 0
    for (let attempt = 0; attempt < 8 && kills < 4; attempt++) {
      await snapshot(`attempt ${attempt}`)
      const running = startCli(['forget'], { cwd: dir })
      const timer = setTimeout(() => running.child.kill('SIGKILL'), durationMs * rng.next())
      const run = await running.done
      clearTimeout(timer)
      if (run.signal === 'SIGKILL') kills++
      else expect(run.code, `attempt ${attempt} ${why}: ${run.stderr}`).toBe(0)

      const ctx = contextFromPlan(plan)
      const checked = await verify(ctx, { readData: true })
      expect(checked.problems, `after attempt ${attempt} ${why}`).toEqual([])
      for (const s of await (await ctx.repository()).listSnapshots('app-db')) {
        const target = join(dir, `restored-${attempt}-${s.id.slice(0, 8)}.db`)
        await restore(ctx, { resource: 'app-db', snapshot: s.id, target })
        expect(fingerprint(target), `snapshot ${s.id.slice(0, 8)} after attempt ${attempt} ${why}`).toEqual(
          states.get(rowsOf(s.tables).generation!),
        )
      }
      await ctx.close()
    }
    expect(kills, why).toBeGreaterThan(0)
    // The dead forgets' locks are stale: the next forget runs and finishes what they left.
    const last = await runCli(['forget', '--json'], { cwd: dir })
    expect(last.code, last.stderr).toBe(0)
    expect(await readLocks(join(dir, 'repo'))).toEqual([])
  })
})

describe('two agents and a prune against one repository', () => {
  it('forget (some runs killed) while both agents ship loses no moment of the window', {
    timeout: 120_000,
  }, async () => {
    const rng = seededRandom(seed + 1)
    const dir = await tempDir('drkit-faults-agents-')
    const names = ['app-a', 'app-b'] as const
    const dbs: Record<string, Database.Database> = {}
    for (const name of names) {
      const db = new Database(join(dir, `${name}.db`))
      onTestFinished(() => {
        if (db.open) db.close()
      })
      db.pragma('journal_mode = WAL')
      db.exec('CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT, v)')
      dbs[name] = db
      // One plan per agent, both on ./repo; the window keeps an hour of changes, retention the newest snapshot.
      await writeFile(
        join(dir, `${name}.yaml`),
        `repository: ./repo\nresources:\n  ${name}:\n    type: sqlite\n    path: ./${name}.db\n` +
          '    capture: { interval: 100ms }\n    retention: { last: 1, pitr: 1h }\n',
      )
    }
    const drkit = (plan: string, ...args: string[]) => runCli(['--config', plan, ...args], { cwd: dir })
    expect((await drkit('app-a.yaml', 'init')).code).toBe(0)
    const write = (name: string, n: number) =>
      dbs[name]!.transaction(() => {
        for (let i = 0; i < n; i++)
          dbs[name]!.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)').run(`r${i}`, rng.next())
      })()

    const agents = names.map((name) => {
      const agent = startCli(['--config', `${name}.yaml`, 'agent'], { cwd: dir })
      onTestFinished(() => {
        if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL')
      })
      return agent
    })
    for (const agent of agents)
      await waitFor('an agent to start', () => (agent.stderr().includes('agent.started') ? true : undefined))

    const contexts = Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, await openContext({ config: join(dir, `${n}.yaml`) })] as const)),
    )
    onTestFinished(async () => {
      for (const ctx of Object.values(contexts)) await ctx.close()
    })
    const bookmarks: { name: string; resource: string; print: Fingerprint }[] = []
    for (let round = 0; round < 4; round++) {
      for (const name of names) {
        write(name, 20)
        const taken = await drkit(`${name}.yaml`, 'backup', name)
        expect(taken.code, taken.stderr).toBe(0)
        write(name, 10)
        const mark = `r${round}`
        const made = await drkit(`${name}.yaml`, 'bookmark', name, mark)
        expect(made.code, made.stderr).toBe(0)
        bookmarks.push({ name: mark, resource: name, print: await liveFingerprint(contexts[name]!, name) })
      }
      // Each plan's forget prunes the whole repository; every other one is killed at a random moment.
      const plan = `${names[round % 2]}.yaml`
      const running = startCli(['--config', plan, 'forget', '--wait', '30s'], { cwd: dir })
      const timer =
        round % 2 === 1 ? setTimeout(() => running.child.kill('SIGKILL'), 150 + 600 * rng.next()) : undefined
      const run = await running.done
      clearTimeout(timer)
      if (run.signal !== 'SIGKILL') expect(run.code, `forget in round ${round} ${why}: ${run.stderr}`).toBe(0)
    }
    for (const agent of agents) {
      agent.child.kill('SIGTERM')
      const run = await agent.done
      expect(run.code, run.stderr).toBe(0)
    }
    const last = await drkit('app-a.yaml', 'forget')
    expect(last.code, last.stderr).toBe(0)

    for (const name of names) {
      const checked = await verify(contexts[name]!, { readData: true })
      expect(checked.problems, `${name} ${why}`).toEqual([])
    }
    for (const b of bookmarks) {
      const target = join(dir, `${b.resource}-${b.name}.db`)
      await restore(contexts[b.resource]!, { resource: b.resource, bookmark: b.name, target })
      expect(
        await targetFingerprint(contexts[b.resource]!, target, b.resource),
        `${b.resource} ${b.name} ${why}`,
      ).toEqual(b.print)
    }
    for (const name of names) {
      const target = join(dir, `${name}-latest.db`)
      await restore(contexts[name]!, { resource: name, target })
      expect(await targetFingerprint(contexts[name]!, target, name)).toEqual(
        await liveFingerprint(contexts[name]!, name),
      )
    }
  })
})
