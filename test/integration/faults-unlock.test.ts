/**
 * Stale locks from dead processes: `drkit unlock` removes them and never a live owner's,
 * unless --remove-all, which says what it removed; forget's delete phase waits for a live
 * lock and fails naming its holder when it may not wait.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { UnlockResult } from '../../src/ops/unlock.js'
import type { LockInfo } from '../../src/repository/lock.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { deadPid, readLocks } from '../support/fault-cli.js'
import { createDb } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

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

describe('drkit unlock', () => {
  it('removes stale locks, keeps a live one unless --remove-all, and forget waits for the live one', async () => {
    const dir = await tempDir('drkit-unlock-')
    createDb(join(dir, 'app.db'), { seed: 3, sizeMiB: 1 })
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 1 }\n'))
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['backup', 'app-db'], { cwd: dir })).code).toBe(0)
    const repo = join(dir, 'repo')
    // This test process is alive: its lock is a live owner's.
    await writeLock(repo, 'live', { kind: 'read', command: 'restore app-db' })

    const refused = await runCli(['forget', '--wait', '0s', '--json'], { cwd: dir })
    expect(refused.code).toBe(1)
    expect(refused.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'locked',
      message: expect.stringContaining(`"drkit restore app-db" (pid ${process.pid}`),
    })

    // Written after the forget: a lock taker removes the stale locks it meets on its way.
    const old = new Date(Date.now() - 10 * 60_000).toISOString()
    await writeLock(repo, 'dead-here', { pid: await deadPid() })
    await writeLock(repo, 'silent-elsewhere', { host: 'other-host', pid: 1, created: old, refreshed: old })
    const unlocked = await runCli(['unlock', '--json'], { cwd: dir })
    expect(unlocked.code, unlocked.stderr).toBe(0)
    const result = unlocked.json<UnlockResult>()
    expect(result.removed.map((l) => l.key).sort()).toEqual(['locks/dead-here', 'locks/silent-elsewhere'])
    expect(result.kept.map((l) => l.key)).toEqual(['locks/live'])
    expect((await readLocks(repo)).map((l) => l.name)).toEqual(['live'])

    const human = await runCli(['unlock', '--remove-all'], { cwd: dir })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain(
      `removed 1 lock(s):\n  read lock on app-db by "drkit restore app-db" (pid ${process.pid}`,
    )
    expect(await readLocks(repo)).toEqual([])
    expect((await runCli(['forget'], { cwd: dir })).code).toBe(0)
  })
})
