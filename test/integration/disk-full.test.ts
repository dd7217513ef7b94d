/**
 * A disk that fills up during a backup (library level): the repository's fs backend wrapped in
 * `faulty()`, every put after the Nth failing with BackendError('no-space'), for N landing on
 * the lock, the pack uploads, the index and the manifest. Each failed backup must fail clearly
 * and leave no visible snapshot and a repository that verifies; the next one must succeed.
 */
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan, type OpsContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { listSnapshots } from '../../src/ops/snapshots.js'
import { verify } from '../../src/ops/verify.js'
import { BackendError } from '../../src/repository/backends/backend.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { faulty } from '../../src/repository/backends/wrap/faulty.js'
import { Repository } from '../../src/repository/index.js'
import { readLocks } from '../support/fault-cli.js'
import { contextOverBackend, limitPuts, loadTestPlan } from '../support/fault-context.js'
import { createDb, fingerprint, mutateDb, seededRandom, writePlan } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

const seed = 31337
const packSize = 64 * 1024

/** What the fs backend reports on ENOSPC; the keys refused are pushed to `refused`. */
const noSpace = (root: string, refused: string[]) => (key: string) => {
  refused.push(key)
  return new BackendError(
    'no-space',
    `cannot store ${key}: the disk at ${root} is full`,
    'Free some space and run the command again; nothing was committed.',
  )
}

/** How many puts a backup of the database's current state makes: counted on a copy of the repository. */
async function putsNeeded(dir: string, repo: string, copy: string): Promise<number> {
  await cp(repo, join(dir, copy), { recursive: true })
  const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
  const counted = faulty(await openFsBackend(join(dir, copy)))
  const ctx = contextOverBackend(plan, counted)
  try {
    await backup(ctx, 'app-db')
  } finally {
    await ctx.close()
  }
  return counted.counts.put
}

/** A context that reads the repository from disk afresh (no cache shared with the faulty one). */
async function withFreshContext<T>(dir: string, fn: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const ctx = contextFromPlan(await loadTestPlan(join(dir, 'drkit.yaml')))
  try {
    return await fn(ctx)
  } finally {
    await ctx.close()
  }
}

describe('a full disk during a backup', () => {
  it('fails clearly at every put, commits nothing, and the next backup succeeds', { timeout: 120_000 }, async () => {
    const rng = seededRandom(seed)
    const dir = await tempDir('drkit-disk-full-')
    const db = join(dir, 'app.db')
    const repo = join(dir, 'repo')
    createDb(db, { seed, sizeMiB: 6 })
    await writePlan(dir, { 'app-db': './app.db' })
    // Small packs, so that one backup uploads several and the disk can fill up between them.
    await Repository.init(await openFsBackend(repo, { create: true }), { packSize })

    const disk = faulty(await openFsBackend(repo))
    const limit = limitPuts(disk)
    const ctx = contextOverBackend(await loadTestPlan(join(dir, 'drkit.yaml')), limit.backend)
    try {
      await backup(ctx, 'app-db')

      // A backup puts, in order: its lock, its packs, the index of those packs, the manifest.
      // Each case fails puts from number `failing(puts)` (1-based) on.
      const cases: { what: string; key: string; failing: (puts: number) => number }[] = [
        { what: 'the lock', key: 'locks/', failing: () => 1 },
        { what: 'the first pack', key: 'data/', failing: () => 2 },
        { what: 'a pack in the middle', key: 'data/', failing: (puts) => 2 + Math.floor((puts - 3) / 2) },
        { what: 'the last pack', key: 'data/', failing: (puts) => puts - 2 },
        { what: 'the index', key: 'index/', failing: (puts) => puts - 1 },
        { what: 'the manifest', key: 'snapshots/app-db/', failing: (puts) => puts },
      ]
      for (const [i, { what, key }] of cases.entries()) {
        const label = `disk full at ${what}`
        mutateDb(db, rng, label, { share: 0.3 })
        const expected = fingerprint(db)
        const puts = await putsNeeded(dir, repo, `count-${i}`)
        expect(puts - 3, `${label}: packs in this backup`).toBeGreaterThanOrEqual(4)
        const failing = cases[i]!.failing(puts)

        const before = (await listSnapshots(ctx, 'app-db')).map((s) => s.id)
        const putsBefore = disk.counts.put
        const refused: string[] = []
        limit.failAfter(failing - 1, noSpace(repo, refused))
        const error = await backup(ctx, 'app-db').then(
          () => undefined,
          (err: unknown) => err,
        )
        limit.heal()
        expect(refused[0], `${label}: the first put refused`).toMatch(new RegExp(`^${key}`))

        expect(error, `${label}: the backup fails`).toBeInstanceOf(BackendError)
        expect((error as BackendError).kind, label).toBe('no-space')
        expect((error as BackendError).message, label).toMatch(/disk .* is full/)
        expect(disk.counts.put - putsBefore, `${label}: puts tried`).toBeGreaterThanOrEqual(failing)
        expect(
          (await listSnapshots(ctx, 'app-db')).map((s) => s.id),
          `${label}: no new snapshot`,
        ).toEqual(before)
        await withFreshContext(dir, async (fresh) => {
          expect(
            (await listSnapshots(fresh, 'app-db')).map((s) => s.id),
            `${label}: no new snapshot on disk`,
          ).toEqual(before)
          const checked = await verify(fresh, { readData: true })
          expect(checked.problems, `${label}: verify afterwards`).toEqual([])
          expect(checked.ok, label).toBe(true)
        })
        expect(await readLocks(repo), `${label}: the lock was released`).toEqual([])

        // Space again: the same context backs up and restores.
        const { snapshot } = await backup(ctx, 'app-db')
        expect(
          (await listSnapshots(ctx, 'app-db')).map((s) => s.id),
          label,
        ).toEqual([...before, snapshot.id])
        const target = `restored-${i}.db`
        await restore(ctx, { resource: 'app-db', target, snapshot: snapshot.id })
        expect(fingerprint(join(dir, target)), `${label}: restored state`).toEqual(expected)
      }

      await withFreshContext(dir, async (fresh) => {
        const checked = await verify(fresh, { readData: true })
        expect(checked.problems).toEqual([])
        expect(checked.snapshots).toBe(1 + cases.length)
      })
    } finally {
      await ctx.close()
    }
  })
})
