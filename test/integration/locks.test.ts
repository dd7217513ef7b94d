/**
 * Writer locks through the real CLI: two backups of one resource exclude each other (the
 * second fails naming the holder, or waits with --wait), backups of two resources do not,
 * a lock whose process is gone or whose heartbeat is old is stale, a live one blocks.
 *
 * To make "at the same time" deterministic, the first backup is held inside its lock: the test
 * keeps a write transaction open on the (WAL) database, so the backup, which takes its lock
 * before it reads the database, waits in SQLite until the test ends the transaction.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { LockInfo } from '../../src/repository/lock.js'
import { runCli } from '../support/cli.js'
import { deadPid, readLocks, startCli, waitForLockOf } from '../support/fault-cli.js'
import { createDb, writePlan } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

interface Setup {
  dir: string
  repo: string
  app: string
  other: string
}

async function setup(): Promise<Setup> {
  const dir = await tempDir('drkit-locks-')
  const app = join(dir, 'app.db')
  const other = join(dir, 'other.db')
  createDb(app, { seed: 7, sizeMiB: 12, wal: true })
  createDb(other, { seed: 8, sizeMiB: 4, wal: true })
  await writePlan(dir, { 'app-db': './app.db', 'other-db': './other.db' })
  const init = await runCli(['init'], { cwd: dir })
  expect(init.code, init.stderr).toBe(0)
  return { dir, repo: join(dir, 'repo'), app, other }
}

/** Holds SQLite's write lock on a database until release(): a backup of it waits inside its repository lock. */
function holdWrites(path: string): { release(): void } {
  const db = new Database(path, { fileMustExist: true })
  db.exec('BEGIN IMMEDIATE')
  return {
    release() {
      if (!db.open) return
      db.exec('ROLLBACK')
      db.close()
    },
  }
}

async function writeLock(repo: string, name: string, info: Partial<LockInfo>): Promise<void> {
  const now = new Date().toISOString()
  const lock: LockInfo = {
    resource: 'app-db',
    kind: 'write',
    host: hostname(),
    pid: process.pid,
    command: 'backup app-db',
    created: now,
    refreshed: now,
    ...info,
  }
  await mkdir(join(repo, 'locks'), { recursive: true })
  await writeFile(join(repo, 'locks', name), JSON.stringify(lock))
}

async function snapshotCount(dir: string, resource: string): Promise<number> {
  const run = await runCli(['snapshots', resource, '--json'], { cwd: dir })
  expect(run.code, run.stderr).toBe(0)
  return run.json<{ snapshots: unknown[] }>().snapshots.length
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.on('close', () => resolve())
  })
}

describe('locks between drkit processes', () => {
  it('a second backup of the same resource fails at once, naming the holder', async () => {
    const { dir, repo, app } = await setup()
    const held = holdWrites(app)
    try {
      const first = startCli(['backup', 'app-db'], { cwd: dir })
      await waitForLockOf(repo, first)

      const second = await runCli(['backup', 'app-db'], { cwd: dir })
      expect(second.code, second.stderr).toBe(1)
      expect(second.stderr).toContain(`app-db is locked by "drkit backup app-db" (pid ${first.pid} on ${hostname()}`)
      const json = await runCli(['backup', 'app-db', '--json'], { cwd: dir })
      expect(json.code, json.stdout).toBe(1)
      const { error } = json.json<{ error: { code: string; message: string; hint?: string } }>()
      expect(error.code).toBe('locked')
      expect(error.message).toContain(`pid ${first.pid} on ${hostname()}`)
      expect(error.message).toContain('"drkit backup app-db"')
      expect(error.hint).toBeTruthy()

      held.release()
      const done = await first.done
      expect(done.code, done.stderr).toBe(0)
    } finally {
      held.release()
    }
    expect(await snapshotCount(dir, 'app-db')).toBe(1)
    expect(await readLocks(repo), 'the refused backups left no lock behind').toEqual([])
  })

  it('with --wait, a second backup of the same resource waits for the first and succeeds', async () => {
    const { dir, repo, app } = await setup()
    const held = holdWrites(app)
    try {
      const first = startCli(['backup', 'app-db', '--json'], { cwd: dir })
      const firstLock = await waitForLockOf(repo, first)

      // The second one's attempts show as lock files that come and go beside the first one's.
      let sawAttempt: () => void = () => undefined
      const attempted = new Promise<void>((resolve) => {
        sawAttempt = resolve
      })
      const watcher = watch(join(repo, 'locks'), (_, name) => {
        if (name && !name.startsWith('.tmp-') && name !== firstLock) sawAttempt()
      })
      const second = startCli(['backup', 'app-db', '--wait', '30s', '--json'], { cwd: dir })
      try {
        await attempted
      } finally {
        watcher.close()
      }
      expect(second.child.exitCode, 'the second backup is waiting').toBeNull()

      held.release()
      const [a, b] = await Promise.all([first.done, second.done])
      expect(a.code, a.stderr).toBe(0)
      expect(b.code, b.stderr).toBe(0)
      const committed = (run: typeof a) => Date.parse(run.json<{ snapshots: { time: string }[] }>().snapshots[0]!.time)
      expect(committed(b), 'the second committed after the first').toBeGreaterThan(committed(a))
    } finally {
      held.release()
    }
    expect(await snapshotCount(dir, 'app-db')).toBe(2)
    expect(await readLocks(repo)).toEqual([])
  })

  it('backups of two different resources run at the same time', async () => {
    const { dir, repo, app } = await setup()
    const held = holdWrites(app)
    try {
      const first = startCli(['backup', 'app-db'], { cwd: dir })
      const appLock = await waitForLockOf(repo, first)
      // other-db's backup runs start to end while app-db's holds its lock.
      const other = await runCli(['backup', 'other-db'], { cwd: dir })
      expect(other.code, other.stderr).toBe(0)
      expect((await readLocks(repo)).map((l) => l.name)).toEqual([appLock])
      held.release()
      const done = await first.done
      expect(done.code, done.stderr).toBe(0)
    } finally {
      held.release()
    }

    // And started together, unheld.
    const runs = await Promise.all([
      runCli(['backup', 'app-db'], { cwd: dir }),
      runCli(['backup', 'other-db'], { cwd: dir }),
    ])
    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    expect(await snapshotCount(dir, 'app-db')).toBe(2)
    expect(await snapshotCount(dir, 'other-db')).toBe(2)
    expect(await readLocks(repo)).toEqual([])
  })

  it('a lock left by a dead process on this host is stale: ignored and removed', async () => {
    const { dir, repo } = await setup()
    const pid = await deadPid()
    await writeLock(repo, 'left-by-a-crash', { pid })
    const run = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(run.code, `a lock of dead pid ${pid} blocked the backup: ${run.stderr}`).toBe(0)
    expect(await readLocks(repo)).toEqual([])
  })

  it('a lock on another host is stale only when its heartbeat is old', async () => {
    const { dir, repo } = await setup()
    const host = 'elsewhere.invalid'
    await writeLock(repo, 'fresh-elsewhere', { host, pid: 4242 })
    const blocked = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(blocked.code, blocked.stderr).toBe(1)
    expect(blocked.stderr).toContain(`(pid 4242 on ${host}`)

    const old = new Date(Date.now() - 60 * 60_000).toISOString()
    await writeLock(repo, 'fresh-elsewhere', { host, pid: 4242, created: old, refreshed: old })
    const run = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(await readLocks(repo)).toEqual([])
  })

  it('a lock held by a live process blocks and is reported; once that process is gone it is stale', async () => {
    const { dir, repo } = await setup()
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      const pid = sleeper.pid!
      await writeLock(repo, 'held-by-sleep', { pid, command: 'backup app-db' })
      const run = await runCli(['backup', 'app-db'], { cwd: dir })
      expect(run.code, run.stderr).toBe(1)
      expect(run.stderr).toContain(`app-db is locked by "drkit backup app-db" (pid ${pid} on ${hostname()}`)
      const json = await runCli(['backup', 'app-db', '--json'], { cwd: dir })
      expect(json.code).toBe(1)
      expect(json.json<{ error: { code: string } }>().error.code).toBe('locked')
      // A write lock of app-db does not concern other-db.
      const other = await runCli(['backup', 'other-db'], { cwd: dir })
      expect(other.code, other.stderr).toBe(0)

      // An exclusive lock (pruning) keeps every resource out.
      await writeLock(repo, 'held-by-sleep', { pid, resource: '*', kind: 'exclusive', command: 'forget' })
      const excluded = await runCli(['backup', 'other-db'], { cwd: dir })
      expect(excluded.code, excluded.stderr).toBe(1)
      expect(excluded.stderr).toContain(`the repository is locked by "drkit forget" (pid ${pid} on ${hostname()}`)
    } finally {
      sleeper.kill('SIGKILL')
      await exited(sleeper)
    }
    const run = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(await readLocks(repo)).toEqual([])
  })
})
