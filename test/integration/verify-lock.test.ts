/**
 * verify holds a read lock on the repository: a prune's delete phase cannot start while
 * verify reads (so verify never reports a pack it deleted as damage), and verify waits
 * for, or names, a prune's delete phase in flight.
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LockedError } from '../../src/errors.js'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan } from '../../src/ops/context.js'
import { forget } from '../../src/ops/forget.js'
import { verify } from '../../src/ops/verify.js'
import type { Backend } from '../../src/repository/backends/backend.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { sqlitePlan } from '../support/cli.js'
import { contextOverBackend, loadTestPlan } from '../support/fault-context.js'
import { createDb } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

/** Two snapshots of unrelated states, retention `last: 1`: forget has packs to delete. */
async function setup() {
  const dir = await tempDir('drkit-verify-lock-')
  const db = join(dir, 'app.db')
  createDb(db, { seed: 3, sizeMiB: 2 })
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 1 }\n'))
  await Repository.init(await openFsBackend(join(dir, 'repo'), { create: true }), { packSize: 128 * 1024 })
  const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
  const ctx = contextFromPlan(plan)
  await backup(ctx, 'app-db')
  await rm(db)
  createDb(db, { seed: 4, sizeMiB: 2 })
  await backup(ctx, 'app-db')
  await ctx.close()
  return { dir, plan }
}

/** The backend, with the first read of a pack held until `release` is called. */
function pausingPackReads(backend: Backend) {
  let release = () => {}
  let reached = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const paused = new Promise<void>((resolve) => {
    reached = resolve
  })
  let first = true
  const wrapped: Backend = {
    kind: backend.kind,
    location: backend.location,
    put: (key, body, opts) => backend.put(key, body, opts),
    async get(key, opts) {
      if (first && key.startsWith('data/')) {
        first = false
        reached()
        await gate
      }
      return backend.get(key, opts)
    },
    stat: (key) => backend.stat(key),
    list: (prefix, opts) => backend.list(prefix, opts),
    delete: (key) => backend.delete(key),
    close: () => backend.close(),
  }
  return { backend: wrapped, paused, release }
}

describe('verify and prune', () => {
  it('a prune cannot delete while verify reads; verify finds nothing wrong', { timeout: 60_000 }, async () => {
    const { dir, plan } = await setup()
    const pausing = pausingPackReads(await openFsBackend(join(dir, 'repo')))
    const verifying = verify(contextOverBackend(plan, pausing.backend), { readData: true })
    await pausing.paused

    const pruner = contextFromPlan(plan)
    await expect(forget(pruner, { waitMs: 0 })).rejects.toThrow(LockedError)
    await expect(forget(pruner, { waitMs: 0 })).rejects.toThrow(/drkit verify/)
    // The refused forget deleted nothing: every snapshot is still there.
    expect(await (await pruner.repository()).listSnapshots('app-db')).toHaveLength(2)

    pausing.release()
    const result = await verifying
    expect(result.problems).toEqual([])
    // Once verify is done, the prune goes ahead.
    const pruned = await forget(pruner, { waitMs: 0 })
    expect(pruned.prune.snapshotsDeleted).toBe(1)
    await pruner.close()
  })

  it("verify waits for a prune's delete phase, or names it", { timeout: 60_000 }, async () => {
    const { plan } = await setup()
    const ctx = contextFromPlan(plan)
    const prune = await (await ctx.repository()).lock('*', 'prune', { command: 'forget' })
    await expect(verify(ctx, { waitMs: 0, store: false })).rejects.toThrow(/locked by "drkit forget"/)
    const waiting = verify(ctx, { waitMs: 30_000, store: false })
    setTimeout(() => void prune.release(), 300)
    expect((await waiting).ok).toBe(true)
    await ctx.close()
  })
})
