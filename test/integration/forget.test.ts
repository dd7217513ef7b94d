/**
 * `drkit forget` end to end: retention through the built CLI (a dry run changes nothing;
 * forgotten snapshots' data goes, kept snapshots restore exactly, verify passes), and the
 * PITR window: moments and bookmarks inside it keep restoring, bookmarks before it are
 * reported and refused cleanly.
 */
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openContext } from '../../src/ops/context.js'
import type { ForgetResult } from '../../src/ops/forget.js'
import { forget } from '../../src/ops/forget.js'
import { restore } from '../../src/ops/restore.js'
import { verify } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { createDb, fingerprint, mutateDb, seededRandom } from '../support/fault-db.js'
import { liveFingerprint, targetFingerprint, writePitrPlan } from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

/** Every file under dir, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

/** Stored bytes of every pack. */
async function dataBytes(repo: string): Promise<number> {
  let total = 0
  for (const f of await files(repo)) if (f.startsWith('data/')) total += (await stat(join(repo, f))).size
  return total
}

describe('drkit forget with a retention policy', () => {
  it('a dry run changes nothing; then forgotten data goes and kept snapshots restore exactly', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('drkit-forget-')
    const db = join(dir, 'app.db')
    const repo = join(dir, 'repo')
    createDb(db, { seed: 11, sizeMiB: 2 })
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    retention: { last: 2 }\n'))
    // Small packs, so that forgotten snapshots leave packs wholly and partly unused.
    await Repository.init(await openFsBackend(repo, { create: true }), { packSize: 256 * 1024 })
    const rng = seededRandom(11)
    const prints = []
    for (let i = 0; i < 4; i++) {
      if (i > 0) mutateDb(db, rng, `round ${i}`, { share: 0.3 })
      prints.push(fingerprint(db))
      const run = await runCli(['backup', 'app-db'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
    }

    const before = await files(repo)
    const dataBefore = await dataBytes(repo)
    const dry = await runCli(['forget', '--dry-run', '--json'], { cwd: dir })
    expect(dry.code, dry.stderr).toBe(0)
    const planned = dry.json<ForgetResult>()
    expect(planned.dryRun).toBe(true)
    expect(planned.resources[0]!.snapshots.map((s) => s.keep)).toEqual([true, true, false, false])
    expect(planned.resources[0]!.snapshots[0]!.reasons).toEqual(['kept: last 2'])
    expect(planned.prune.packs.deleted + planned.prune.packs.repacked).toBeGreaterThan(0)
    expect((await files(repo)).filter((f) => !f.startsWith('locks/'))).toEqual(before)

    const run = await runCli(['forget', '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    const done = run.json<ForgetResult>()
    expect(done.prune.snapshotsDeleted).toBe(2)
    expect(done.prune.packs.deleted + done.prune.packs.repacked).toBeGreaterThan(0)
    expect(done.prune.bytes.removed).toBeGreaterThan(done.prune.bytes.written)
    expect(await dataBytes(repo)).toBe(dataBefore - done.prune.bytes.removed + done.prune.bytes.written)
    expect((await files(repo)).filter((f) => f.startsWith('locks/'))).toEqual([])

    const listed = await runCli(['snapshots', '--json'], { cwd: dir })
    const kept = listed.json<{ snapshots: { id: string }[] }>().snapshots
    expect(kept.map((s) => s.id)).toEqual(
      [...planned.resources[0]!.snapshots]
        .reverse()
        .filter((s) => s.keep)
        .map((s) => s.id),
    )
    const verified = await runCli(['verify', '--read-data', '--json'], { cwd: dir })
    expect(verified.code, verified.stdout).toBe(0)
    for (const [i, s] of kept.entries()) {
      const target = join(dir, `restored-${i}.db`)
      const restored = await runCli(['restore', 'app-db', '--snapshot', s.id, '--to', target], { cwd: dir })
      expect(restored.code, restored.stderr).toBe(0)
      expect(fingerprint(target)).toEqual(prints[2 + i])
    }

    // Everything left is in use: a second forget removes nothing.
    const again = (await runCli(['forget', '--json'], { cwd: dir })).json<ForgetResult>()
    expect(again.prune.packs).toMatchObject({ deleted: 0, repacked: 0, leftovers: 0 })
  })
})

describe('forget and the point-in-time window', () => {
  it('keeps every moment and bookmark of the window restorable, and reports those before it', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('drkit-forget-pitr-')
    const app = join(dir, 'app.db')
    const live = new Database(app)
    onTestFinished(() => {
      live.close()
    })
    live.pragma('journal_mode = WAL')
    live.exec('CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT, v)')
    const insert = (n: number) =>
      live.transaction(() => {
        for (let i = 0; i < n; i++) live.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)').run(`row ${i}`, i)
      })()
    insert(20)
    await writePitrPlan(dir, '200ms', '    retention: { last: 1, pitr: 1h }\n')
    const drkit = (...args: string[]) => runCli(args, { cwd: dir })
    expect((await drkit('init')).code).toBe(0)
    const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
    onTestFinished(() => ctx.close())

    const prints: Record<string, Awaited<ReturnType<typeof liveFingerprint>>> = {}
    const mark = async (name: string) => {
      const run = await drkit('bookmark', 'app-db', name, '--json')
      expect(run.code, run.stderr).toBe(0)
      prints[name] = await liveFingerprint(ctx)
      return run.json<{ time: string }>().time
    }
    await mark('b0')
    insert(5)
    await mark('b1')
    insert(5)
    const backup = await drkit('backup', 'app-db', '--json')
    expect(backup.code, backup.stderr).toBe(0)
    insert(5)
    const b2 = await mark('b2')
    insert(5)
    await mark('b3')

    // The window starts just before b2: the snapshot taken before it is its base.
    const windowStart = Date.parse(b2) - 1
    const result = await forget(ctx, { now: windowStart + 3_600_000 })
    const decisions = result.resources[0]!
    expect(decisions.snapshots.map((s) => s.reasons)).toEqual([
      ['kept: last 1', 'kept: pitr base (window 1h)'],
      ['forgotten: matches no rule'],
    ])
    expect(decisions.lostBookmarks.sort()).toEqual(['b0', 'b1'])
    expect(decisions.segmentsForgotten).toBeGreaterThan(0)
    expect((await verify(ctx, { readData: true })).problems).toEqual([])

    for (const name of ['b2', 'b3']) {
      const target = join(dir, `${name}.db`)
      await restore(ctx, { resource: 'app-db', bookmark: name, target })
      expect(await targetFingerprint(ctx, target)).toEqual(prints[name])
    }
    const refused = await drkit('restore', 'app-db', '--bookmark', 'b1', '--to', join(dir, 'b1.db'))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/bookmark b1 .* cannot be restored/)
  })
})
