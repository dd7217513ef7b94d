/**
 * Pruning while others write: a backup committed between prune's mark phase and its
 * delete phase that deduplicated against blobs the prune had found unused keeps them; a
 * long-lived process whose index knew pruned packs does not deduplicate against them
 * afterwards; packs left by a backup that failed before its index are removed.
 */
import { copyFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan } from '../../src/ops/context.js'
import { forget } from '../../src/ops/forget.js'
import { restore } from '../../src/ops/restore.js'
import { verify } from '../../src/ops/verify.js'
import type { Backend } from '../../src/repository/backends/backend.js'
import { BackendError } from '../../src/repository/backends/backend.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { sqlitePlan } from '../support/cli.js'
import { contextOverBackend, loadTestPlan } from '../support/fault-context.js'
import { createDb, fingerprint } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

/** A repository with two snapshots of app.db (states A then B), retention `last: 1`; state A saved as a.db. */
async function setup() {
  const dir = await tempDir('drkit-prune-')
  const db = join(dir, 'app.db')
  createDb(db, { seed: 5, sizeMiB: 3 })
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 1 }\n'))
  await Repository.init(await openFsBackend(join(dir, 'repo'), { create: true }), { packSize: 128 * 1024 })
  const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
  const first = contextFromPlan(plan)
  await backup(first, 'app-db')
  await first.close()
  await copyFile(db, join(dir, 'a.db'))
  const printA = fingerprint(db)
  // State B shares no page with A, so A's packs are wholly unused once its snapshot is forgotten.
  await rm(db)
  createDb(db, { seed: 6, sizeMiB: 3 })
  const printB = fingerprint(db)
  return { dir, db, plan, printA, printB }
}

/** The backend, with `hook` run once just before prune's lock is written (between its two phases). */
function beforePruneLock(backend: Backend, hook: () => Promise<void>): Backend {
  let fired = false
  return {
    kind: backend.kind,
    location: backend.location,
    async put(key, body, opts) {
      if (!fired && key.startsWith('locks/') && Buffer.from(body).toString().includes('"kind":"prune"')) {
        fired = true
        await hook()
      }
      return backend.put(key, body, opts)
    },
    get: (key, opts) => backend.get(key, opts),
    stat: (key) => backend.stat(key),
    list: (prefix, opts) => backend.list(prefix, opts),
    delete: (key) => backend.delete(key),
    close: () => backend.close(),
  }
}

describe('prune beside writers', () => {
  it('keeps the data of a backup committed between its mark and delete phases', { timeout: 60_000 }, async () => {
    const { dir, db, plan, printA, printB } = await setup()
    const writer = contextFromPlan(plan)
    await backup(writer, 'app-db')

    const dry = await forget(writer, { dryRun: true })
    expect(dry.prune.packs.deleted, 'state A alone has packs the prune would delete').toBeGreaterThan(0)

    // During the prune, state A comes back and is backed up: every blob deduplicates against
    // the forgotten snapshot's, which the mark phase found unused.
    let late = ''
    const backend = beforePruneLock(await openFsBackend(join(dir, 'repo')), async () => {
      await copyFile(join(dir, 'a.db'), db)
      const other = contextFromPlan(plan)
      late = (await backup(other, 'app-db')).snapshot.id
      await other.close()
    })
    const pruning = contextOverBackend(plan, backend)
    const result = await forget(pruning, {})
    await pruning.close()
    expect(late).not.toBe('')
    expect(result.prune.snapshotsDeleted).toBe(1)

    const check = contextFromPlan(plan)
    expect((await verify(check, { readData: true })).problems).toEqual([])
    const repository = await check.repository()
    const ids = (await repository.listSnapshots('app-db')).map((s) => s.id)
    expect(ids).toContain(late)
    for (const [id, print] of [
      [late, printA],
      [ids.find((id) => id !== late)!, printB],
    ] as const) {
      const target = join(dir, `${id.slice(0, 8)}.db`)
      await restore(check, { resource: 'app-db', snapshot: id, target })
      expect(fingerprint(target)).toEqual(print)
    }
    await check.close()
    await writer.close()
  })

  it('a long-lived process does not deduplicate against packs a prune deleted', { timeout: 60_000 }, async () => {
    const { dir, db, plan, printA } = await setup()
    // The agent-like process: its repository, and its index, stay open across the prune.
    const agent = contextFromPlan(plan)
    await backup(agent, 'app-db')
    const pruner = contextFromPlan(plan)
    const result = await forget(pruner, {})
    await pruner.close()
    expect(result.prune.packs.deleted).toBeGreaterThan(0)

    await copyFile(join(dir, 'a.db'), db)
    const again = (await backup(agent, 'app-db')).snapshot
    expect(again.stats.newChunks).toBeGreaterThan(0)
    const target = join(dir, 'again.db')
    await restore(agent, { resource: 'app-db', snapshot: again.id, target })
    expect(fingerprint(target)).toEqual(printA)
    expect((await verify(agent, { readData: true })).problems).toEqual([])
    await agent.close()
  })

  it('removes the packs of a backup that failed before writing its index', { timeout: 60_000 }, async () => {
    const { dir, plan } = await setup()
    const fs = await openFsBackend(join(dir, 'repo'))
    const failing: Backend = {
      ...fs,
      kind: fs.kind,
      location: fs.location,
      put: (key, body, opts) =>
        key.startsWith('index/')
          ? Promise.reject(new BackendError('fatal', 'injected: the index cannot be written'))
          : fs.put(key, body, opts),
      get: (key, opts) => fs.get(key, opts),
      stat: (key) => fs.stat(key),
      list: (prefix, opts) => fs.list(prefix, opts),
      delete: (key) => fs.delete(key),
      close: () => fs.close(),
    }
    const broken = contextOverBackend(plan, failing)
    await expect(backup(broken, 'app-db')).rejects.toThrow(/index cannot be written/)
    await broken.close()

    const ctx = contextFromPlan(plan)
    const dry = await forget(ctx, { dryRun: true })
    expect(dry.prune.packs.leftovers).toBeGreaterThan(0)
    const done = await forget(ctx, {})
    expect(done.prune.packs.leftovers).toBe(dry.prune.packs.leftovers)
    const after = await forget(ctx, { dryRun: true })
    expect(after.prune.packs).toMatchObject({ deleted: 0, repacked: 0, leftovers: 0 })
    expect((await verify(ctx, { readData: true })).problems).toEqual([])
    await ctx.close()
  })
})
