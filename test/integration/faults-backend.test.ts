/**
 * Backups and forget/prune while the backend fails a share of its requests, on fs and S3:
 * errors before a request lands (the faulty wrapper) and time-outs after it landed (the
 * answer is lost). Whatever failed, with the backend healthy again `verify --read-data`
 * finds nothing, every snapshot still listed restores to exactly the state it was taken
 * from, and the newest committed snapshots are all there.
 */
import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { forget } from '../../src/ops/forget.js'
import { restore } from '../../src/ops/restore.js'
import { unlock } from '../../src/ops/unlock.js'
import { verify } from '../../src/ops/verify.js'
import { type Backend, BackendError } from '../../src/repository/backends/backend.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { openS3Backend } from '../../src/repository/backends/s3.js'
import { type BackendOp, faulty } from '../../src/repository/backends/wrap/faulty.js'
import { Repository } from '../../src/repository/index.js'
import { sqlitePlan } from '../support/cli.js'
import { contextOverBackend, loadTestPlan } from '../support/fault-context.js'
import { createDb, type Fingerprint, fingerprint, mutateDb, rowsOf, seededRandom } from '../support/fault-db.js'
import { type S3Server, startS3Server } from '../support/s3.js'
import { tempDir } from '../support/tmp.js'

let server: S3Server
beforeAll(async () => {
  server = await startS3Server()
})
afterAll(() => server?.stop())

/** Puts and deletes that land, then answer with a time-out, a share `ratio` of the time. */
function losingAnswers(backend: Backend, rng: () => number, ratio: { value: number }): Backend {
  const lost = async <T>(op: () => Promise<T>): Promise<T> => {
    const result = await op()
    if (rng() < ratio.value) throw new BackendError('transient', 'injected: the request timed out (it landed)')
    return result
  }
  return {
    kind: backend.kind,
    location: backend.location,
    put: (key, body, opts) => lost(() => backend.put(key, body, opts)),
    get: (key, opts) => backend.get(key, opts),
    stat: (key) => backend.stat(key),
    list: (prefix, opts) => backend.list(prefix, opts),
    delete: (key) => lost(() => backend.delete(key)),
    close: () => backend.close(),
  }
}

const backends: Record<string, (dir: string) => Promise<Backend>> = {
  fs: (dir) => openFsBackend(join(dir, 'repo'), { create: true }),
  s3: () => openS3Backend({ bucket: server.bucket, prefix: `faults/${randomUUID()}` }, { env: server.env }),
}

describe.each(Object.keys(backends))('on %s, with a share of the requests failing', (kind) => {
  it('backups and forget fail cleanly; every committed snapshot still restores', { timeout: 60_000 }, async () => {
    const seed = 6161
    const rng = seededRandom(seed)
    const dir = await tempDir('drkit-faults-backend-')
    const db = join(dir, 'app.db')
    createDb(db, { seed, sizeMiB: 2 })
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 2 }\n'))
    const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
    const raw = await backends[kind]!(dir)
    await Repository.init(raw, { packSize: 64 * 1024 })
    const failing = faulty(raw)
    const landedRatio = { value: 0 }
    const backend = losingAnswers(failing, () => rng.next(), landedRatio)

    const states = new Map<number, Fingerprint>()
    const committed: { id: string; time: string }[] = []
    const outcomes = { backup: { ok: 0, failed: 0 }, forget: { ok: 0, failed: 0 } }
    const covered = () =>
      outcomes.backup.ok > 0 && outcomes.backup.failed > 0 && outcomes.forget.ok > 0 && outcomes.forget.failed > 0
    // At least 8 rounds, and more (up to 24) until each operation has both failed and succeeded.
    for (let round = 0; round < 24 && (round < 8 || !covered()); round++) {
      mutateDb(db, rng, `round ${round}`, { share: 0.2 })
      const print = fingerprint(db)
      states.set(print.tables.generation!.rows, print)
      // A backup or a forget makes dozens of requests: at 3% each it almost always fails. Each
      // round one of them runs at 3% and the other at 0.5%, where it mostly succeeds, so that
      // both outcomes of both are covered.
      const [backupRate, forgetRate] = round % 2 === 0 ? [0.005, 0.03] : [0.03, 0.005]
      for (const op of ['put', 'get', 'list', 'delete', 'stat'] as BackendOp[]) failing.failRate(op, backupRate)
      landedRatio.value = backupRate
      // A fresh context each round: a process that starts, runs and exits.
      const ctx = contextOverBackend(plan, backend)
      try {
        committed.push((await backup(ctx, 'app-db')).snapshot)
        outcomes.backup.ok++
      } catch (err) {
        if (!(err instanceof BackendError)) throw err
        outcomes.backup.failed++
      }
      // Each step is its own process: locks whose release failed would be stale by the next.
      await unlock(contextOverBackend(plan, raw), { all: true })
      for (const op of ['put', 'get', 'list', 'delete', 'stat'] as BackendOp[]) failing.failRate(op, forgetRate)
      landedRatio.value = forgetRate
      try {
        await forget(ctx, { waitMs: 0 })
        outcomes.forget.ok++
      } catch (err) {
        if (!(err instanceof BackendError)) throw err
        outcomes.forget.failed++
      }
      await ctx.close().catch(() => undefined)
      // The process has exited: locks whose release failed would now be stale.
      await unlock(contextOverBackend(plan, raw), { all: true })
    }
    console.log(kind, JSON.stringify(outcomes))
    expect(covered(), JSON.stringify(outcomes)).toBe(true)

    for (const op of ['put', 'get', 'list', 'delete', 'stat'] as BackendOp[]) failing.failRate(op, 0)
    landedRatio.value = 0
    const healthy = contextOverBackend(plan, raw)
    await forget(healthy, { waitMs: 0 })
    const repository = await healthy.repository()
    const checked = await verify(healthy, { readData: true })
    expect(checked.problems, JSON.stringify(checked.problems, null, 1)).toEqual([])
    // The newest committed snapshot is kept, unless two newer ones are (a backup that failed
    // after its manifest landed did commit, and counts for `last: 2`).
    const listed = await repository.listSnapshots('app-db')
    const newest = committed.at(-1)!
    if (!listed.some((s) => s.id === newest.id)) expect(listed.filter((s) => s.time > newest.time)).toHaveLength(2)
    for (const snapshot of listed) {
      const target = join(dir, `${snapshot.id.slice(0, 8)}.db`)
      await restore(healthy, { resource: 'app-db', snapshot: snapshot.id, target })
      expect(fingerprint(target)).toEqual(states.get(rowsOf(snapshot.tables).generation!))
    }
    await healthy.close()
  })
})
