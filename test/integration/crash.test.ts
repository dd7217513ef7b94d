/**
 * kill -9 of `drkit backup` at seeded random moments (kopia tests/recovery): the commit order
 * (packs, index, manifest) must leave a repository that verifies, a lock that is stale because
 * its pid is dead, and only snapshots that restore to exactly the state they were taken from.
 */
import { watch } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { runCli } from '../support/cli.js'
import { readLocks, startCli, waitForLockOf } from '../support/fault-cli.js'
import {
  createDb,
  type Fingerprint,
  fingerprint,
  mutateDb,
  rowCounts,
  rowsOf,
  seededRandom,
  writePlan,
} from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

const seed = Number(process.env.DRKIT_TEST_SEED ?? 20260227)
const minKills = 12
const maxAttempts = 24

interface State {
  generation: number
  rows: Record<string, number>
  fingerprint: Fingerprint
}

interface Attempt {
  state: number
  delayMs: number
  outcome: 'killed' | 'completed'
  /** Lock files in the repository right after the process ended. */
  locksLeft: number
}

describe('a backup killed with SIGKILL at random moments', () => {
  it('leaves a repository that verifies, a stale lock, and only whole snapshots', { timeout: 240_000 }, async () => {
    const why = `(seed ${seed}; rerun with DRKIT_TEST_SEED=${seed})`
    const rng = seededRandom(seed)
    const dir = await tempDir('drkit-crash-')
    const db = join(dir, 'app.db')
    const repo = join(dir, 'repo')
    createDb(db, { seed, sizeMiB: 40 })
    await writePlan(dir, { 'app-db': './app.db' })
    // Small packs, so that one backup writes many of them and a kill can land between any two.
    await Repository.init(await openFsBackend(repo, { create: true }), { packSize: 1024 * 1024 })

    const states: State[] = []
    const record = () => {
      const print = fingerprint(db)
      const rows = rowCounts(print)
      states.push({ generation: rows.generation!, rows, fingerprint: print })
      return states.length - 1
    }

    // One uninterrupted full backup, then uninterrupted incremental ones like the attempts below:
    // the shortest of those is the duration the kills spread over (the machine may be busy).
    record()
    const full = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(full.code, full.stderr).toBe(0)
    let durationMs = Number.POSITIVE_INFINITY
    for (const note of ['measured 1', 'measured 2']) {
      mutateDb(db, rng, note, { share: 0.1 })
      record()
      const started = performance.now()
      const measured = await runCli(['backup', 'app-db'], { cwd: dir })
      durationMs = Math.min(durationMs, performance.now() - started)
      expect(measured.code, measured.stderr).toBe(0)
    }

    // The first minKills attempts are stratified over a little more than the measured duration
    // (some finish, or die between commit and exit); any further ones, needed when attempts
    // finished before their kill, fall inside it. Each attempt also stores what the killed
    // ones before it did not commit, so it runs longer than the measured backup.
    const spreadMs = durationMs * 1.4
    const attempts: Attempt[] = []
    let kills = 0
    for (let i = 0; kills < minKills && i < maxAttempts; i++) {
      mutateDb(db, rng, `attempt ${i}`, { share: 0.1 })
      const state = record()
      const delayMs =
        i < minKills ? (spreadMs * (((i * 7) % minKills) + rng.next())) / minKills : durationMs * rng.next()
      const running = startCli(['backup', 'app-db'], { cwd: dir })
      const timer = setTimeout(() => running.child.kill('SIGKILL'), delayMs)
      const run = await running.done
      clearTimeout(timer)
      if (run.signal === 'SIGKILL') kills++
      else expect(run.code, `attempt ${i} ${why}:\n${run.stderr}`).toBe(0)
      const locksLeft = (await readLocks(repo)).length
      attempts.push({ state, delayMs, outcome: run.signal === 'SIGKILL' ? 'killed' : 'completed', locksLeft })
    }

    // One kill aimed at the moment the manifest appears: the snapshot is committed, the lock not yet released.
    // Best effort (the process may get to exit first); either way the repository must stay sound.
    mutateDb(db, rng, 'kill at commit', { share: 0.1 })
    const atCommit = record()
    const snapshotDir = join(repo, 'snapshots', 'app-db')
    const before = new Set(await readdir(snapshotDir))
    const committing = startCli(['backup', 'app-db'], { cwd: dir })
    const watcher = watch(snapshotDir, (_, name) => {
      if (name && !name.startsWith('.tmp-') && !before.has(name)) committing.child.kill('SIGKILL')
    })
    const committed = await committing.done
    watcher.close()
    if (committed.signal !== 'SIGKILL') expect(committed.code, committed.stderr).toBe(0)
    attempts.push({
      state: atCommit,
      delayMs: -1,
      outcome: committed.signal === 'SIGKILL' ? 'killed' : 'completed',
      locksLeft: (await readLocks(repo)).length,
    })

    const log = `${why}\nmeasured backup: ${Math.round(durationMs)} ms\nattempts: ${JSON.stringify(attempts)}`
    expect(kills, log).toBeGreaterThanOrEqual(minKills)

    // One more kill, once the backup holds its lock: the lock file it leaves names a dead pid.
    mutateDb(db, rng, 'last kill', { share: 0.1 })
    record()
    const last = startCli(['backup', 'app-db'], { cwd: dir })
    const lockName = await waitForLockOf(repo, last)
    last.child.kill('SIGKILL')
    expect((await last.done).signal, log).toBe('SIGKILL')
    const left = await readLocks(repo)
    expect(
      left.map((l) => l.name),
      log,
    ).toContain(lockName)

    const verified = await runCli(['verify', '--read-data', '--json'], { cwd: dir })
    expect(verified.code, `${log}\n${verified.stdout}${verified.stderr}`).toBe(0)
    expect(verified.json<{ ok: boolean }>().ok, log).toBe(true)

    // Without --wait: a lock that was not recognized as stale would fail this at once.
    mutateDb(db, rng, 'after the kills', { share: 0.05 })
    const final = record()
    const next = await runCli(['backup', 'app-db', '--json'], { cwd: dir })
    expect(next.code, `${log}\n${next.stderr}${next.stdout}`).toBe(0)
    expect(await readLocks(repo), `the stale lock and the backup's own are gone ${why}`).toEqual([])

    const listed = await runCli(['snapshots', 'app-db', '--json'], { cwd: dir })
    expect(listed.code, listed.stderr).toBe(0)
    const snapshots = listed.json<{
      snapshots: { id: string; time: string; tables: { name: string; rows: number }[] }[]
    }>().snapshots
    // Every attempt that exited 0 committed a snapshot; killed ones may or may not have.
    const completed = attempts.filter((a) => a.outcome === 'completed').map((a) => a.state)
    const expectedAtLeast = [0, 1, 2, ...completed, final]

    const matched: number[] = []
    for (const snapshot of snapshots) {
      const rows = rowsOf(snapshot.tables)
      const state = states.findIndex((s) => s.generation === rows.generation)
      expect(state, `snapshot ${snapshot.id} has ${JSON.stringify(rows)}: no recorded state ${log}`).toBeGreaterThan(-1)
      expect(rows, `snapshot ${snapshot.id} row counts ${log}`).toEqual(states[state]!.rows)
      matched.push(state)

      const target = `restored-${snapshot.id.slice(0, 12)}.db`
      const restored = await runCli(['restore', 'app-db', '--to', target, '--snapshot', snapshot.id], { cwd: dir })
      expect(restored.code, `restore of ${snapshot.id} (state ${state}) ${log}\n${restored.stderr}`).toBe(0)
      expect(fingerprint(join(dir, target)), `snapshot ${snapshot.id} (state ${state}) ${log}`).toEqual(
        states[state]!.fingerprint,
      )
    }
    // Listed oldest first, so the states they hold must come in the order they were recorded.
    expect(matched, `snapshot states in time order ${log}`).toEqual([...matched].sort((a, b) => a - b))
    expect(new Set(matched).size, `two snapshots of one state ${log}`).toBe(matched.length)
    for (const state of expectedAtLeast) expect(matched, `state ${state} has a snapshot ${log}`).toContain(state)
  })
})
