/**
 * The life of capture around point-in-time recovery, through the built CLI: schema changes
 * and a dropped table while the agent runs (a new generation with a fresh snapshot, both
 * sides still restorable), a gap in the changelog, the agent's flush on SIGTERM, capture
 * removal, two agents on one resource, bad input, and moments with no proven boundary
 * close by (they restore to the earlier proven boundary, never to part of a transaction).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type OpsContext, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { readTimeline } from '../../src/ops/timeline.js'
import { type CliRun, runCli } from '../support/cli.js'
import { type RunningCli, startCli } from '../support/fault-cli.js'
import {
  changelogRows,
  type Fingerprint,
  iso,
  liveFingerprint,
  sleep,
  targetFingerprint,
  waitFor,
  waitRestorable,
  writePitrPlan,
} from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

interface Env {
  dir: string
  app: string
  /** A connection to the live database, as the application's. */
  db: Database.Database
  ctx: OpsContext
  drkit(...args: string[]): Promise<CliRun>
}

interface TimelineDoc {
  window: { from: string; to: string; generation: string | null }[]
  generations: { id: string; segments: number; snapshots: unknown[] }[]
}

const baseSchema = 'CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT, v)'

async function setup(opts: { interval?: string; extra?: string; schema?: string[] } = {}): Promise<Env> {
  const dir = await tempDir('drkit-pitr-life-')
  const app = join(dir, 'app.db')
  const db = new Database(app, { timeout: 30_000 })
  onTestFinished(() => {
    if (db.open) db.close()
  })
  db.pragma('journal_mode = WAL')
  for (const sql of opts.schema ?? [baseSchema]) db.exec(sql)
  db.transaction(() => {
    const insert = db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
    for (let i = 1; i <= 20; i++) insert.run(`row ${i}`, i * 1.5)
  })()
  await writePitrPlan(dir, opts.interval ?? '200ms', opts.extra ?? '')
  const drkit = (...args: string[]) => runCli(args, { cwd: dir })
  const init = await drkit('init')
  expect(init.code, init.stderr).toBe(0)
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  onTestFinished(() => ctx.close())
  return { dir, app, db, ctx, drkit }
}

/** Starts `drkit agent` and waits until it captures. */
async function startAgent(env: Env): Promise<RunningCli> {
  const agent = startCli(['agent'], { cwd: env.dir })
  onTestFinished(() => {
    if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL')
  })
  await waitFor('the agent to start', () => {
    if (agent.stderr().includes('agent.started')) return true
    if (agent.child.exitCode !== null)
      throw new Error(`the agent exited with ${agent.child.exitCode}: ${agent.stderr()}`)
    return undefined
  })
  return agent
}

/** SIGTERM, then the agent must exit 0 after shipping. */
async function stopAgent(agent: RunningCli): Promise<CliRun> {
  agent.child.kill('SIGTERM')
  const run = await agent.done
  expect(run.code, `agent: ${run.signal ?? ''} ${run.stderr}`).toBe(0)
  return run
}

/** No commit for halfMs on either side of the moment it records, with the live state then. */
async function quietMoment(env: Env, halfMs = 75): Promise<{ at: number; print: Fingerprint }> {
  await sleep(halfMs)
  const at = Date.now()
  const print = await liveFingerprint(env.ctx)
  await sleep(halfMs)
  return { at, print }
}

let restores = 0
/** `drkit restore app-db --at` into a new file; the run and the target. */
async function restoreAt(env: Env, at: number | string): Promise<{ run: CliRun; target: string }> {
  const target = join(env.dir, `restored-${restores++}.db`)
  const run = await env.drkit('restore', 'app-db', '--to', target, '--at', typeof at === 'number' ? iso(at) : at)
  return { run, target }
}

/** Restores moment at and returns the restored state's fingerprint; the restore must succeed. */
async function restoredPrint(env: Env, at: number | string): Promise<Fingerprint> {
  const { run, target } = await restoreAt(env, at)
  expect(run.code, `restore --at ${typeof at === 'number' ? iso(at) : at}: ${run.stderr}`).toBe(0)
  return targetFingerprint(env.ctx, target)
}

async function timeline(env: Env): Promise<TimelineDoc> {
  const run = await env.drkit('timeline', 'app-db', '--json')
  expect(run.code, run.stderr).toBe(0)
  return run.json<TimelineDoc>()
}

async function once(env: Env): Promise<CliRun> {
  const run = await env.drkit('agent', '--once')
  expect(run.code, run.stderr).toBe(0)
  return run
}

/** Waits until the repository shows `count` generations, the newest with its snapshot. */
async function waitGenerations(env: Env, count: number): Promise<void> {
  await waitFor(`${count} generations`, async () => {
    const { timeline } = await readTimeline(env.ctx, 'app-db')
    const newest = timeline.generations.at(-1)
    return timeline.generations.length >= count && newest && newest.snapshots.length > 0 ? true : undefined
  })
}

function schemaObjects(path: string, like: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE ? ESCAPE '\\'").pluck().all(like) as string[]
  } finally {
    db.close()
  }
}

function query<T>(path: string, sql: string): T {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).pluck().get() as T
  } finally {
    db.close()
  }
}

describe('schema changes while the agent captures', () => {
  it('ALTER TABLE ADD COLUMN and CREATE TABLE: a new generation; both sides restore exactly', {
    timeout: 60_000,
  }, async () => {
    const env = await setup()
    const agent = await startAgent(env)
    env.db.exec("UPDATE t1 SET v = v * 2 WHERE id % 3 = 0; INSERT INTO t1 (name, v) VALUES ('before', x'00ff')")
    const first = await quietMoment(env)
    await waitRestorable(env.ctx, first.at)
    // A bookmark of the same state, set through the CLI while the agent runs.
    const marked = await env.drkit('bookmark', 'app-db', 'before-migration')
    expect(marked.code, marked.stderr).toBe(0)
    env.db.exec('DELETE FROM t1 WHERE id = 2')
    // No waiting here: the agent may not have shipped this moment when the schema changes.
    const unshipped = await quietMoment(env)
    env.db.exec('ALTER TABLE t1 ADD COLUMN extra TEXT')
    env.db.exec('CREATE TABLE t2 (k TEXT NOT NULL, n INTEGER, PRIMARY KEY (k)) WITHOUT ROWID')
    env.db.exec("UPDATE t1 SET extra = 'early ' || id WHERE id <= 5; INSERT INTO t2 VALUES ('a', 1), ('b', 2)")
    await waitGenerations(env, 2)
    env.db.exec("UPDATE t1 SET extra = 'late ' || id, v = 7 WHERE id % 2 = 0")
    env.db.exec("INSERT INTO t1 (name, extra) VALUES ('after', 'new column'); UPDATE t2 SET n = n + 10")
    env.db.exec("INSERT INTO t2 VALUES ('ç', 9223372036854775807); DELETE FROM t1 WHERE id = 1")
    const later = await quietMoment(env)
    await waitRestorable(env.ctx, later.at)
    const stopped = await stopAgent(agent)
    expect(stopped.stderr).toMatch(/schema changed/)

    expect((await timeline(env)).generations).toHaveLength(2)
    expect(await restoredPrint(env, first.at), 'a moment of the first generation').toEqual(first.print)
    const mark = join(env.dir, 'bookmark.db')
    const byMark = await env.drkit('restore', 'app-db', '--to', mark, '--bookmark', 'before-migration')
    expect(byMark.code, byMark.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, mark), 'the bookmark of the first generation').toEqual(first.print)
    const { run, target } = await restoreAt(env, later.at)
    expect(run.code, run.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, target), 'a moment after the schema change').toEqual(later.print)
    expect(query<number>(target, "SELECT count(*) FROM t1 WHERE extra LIKE 'late %'")).toBeGreaterThan(0)
    expect(query<string>(target, "SELECT extra FROM t1 WHERE name = 'after'")).toBe('new column')
    // Between the last shipped boundary and the new snapshot: exact, or refused naming the window.
    const between = await restoreAt(env, unshipped.at)
    if (between.run.code === 0) {
      expect(await targetFingerprint(env.ctx, between.target), 'the moment just before the change').toEqual(
        unshipped.print,
      )
    } else {
      expect(between.run.code, between.run.stderr).toBe(1)
      expect(between.run.stderr).toMatch(/recoverable window/)
    }
  })

  it('a dropped table: a new generation; moments before the drop still have the table', {
    timeout: 60_000,
  }, async () => {
    const env = await setup({ schema: [baseSchema, 'CREATE TABLE t2 (a TEXT, b BLOB)'] })
    env.db.exec("INSERT INTO t2 VALUES ('x', x''), ('y', x'0102'), (NULL, NULL)")
    const agent = await startAgent(env)
    env.db.exec("INSERT INTO t2 VALUES ('z', zeroblob(10)); UPDATE t1 SET name = 'ü' WHERE id = 4")
    const before = await quietMoment(env)
    await waitRestorable(env.ctx, before.at)
    env.db.exec('DROP TABLE t2')
    env.db.exec("INSERT INTO t1 (name, v) VALUES ('after drop', 1)")
    await waitGenerations(env, 2)
    env.db.exec("UPDATE t1 SET v = -0.5 WHERE id > 10; INSERT INTO t1 (name) VALUES ('later')")
    const after = await quietMoment(env)
    await waitRestorable(env.ctx, after.at)
    await stopAgent(agent)

    expect((await timeline(env)).generations).toHaveLength(2)
    const { run, target } = await restoreAt(env, before.at)
    expect(run.code, run.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, target), 'before the drop').toEqual(before.print)
    expect(query<number>(target, 'SELECT count(*) FROM t2')).toBe(4)
    const late = await restoreAt(env, after.at)
    expect(late.run.code, late.run.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, late.target), 'after the drop').toEqual(after.print)
    expect(schemaObjects(late.target, 't2')).toEqual([])
  })
})

describe('a gap in the changelog', () => {
  it('changes deleted by hand while no agent ran: reported, a new generation, the latest restores', async () => {
    const env = await setup()
    await once(env)
    for (let i = 0; i < 10; i++) env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)').run(`lost ${i}`, i)
    expect(changelogRows(env.app)).toBe(10)
    env.db.exec('DELETE FROM _drkit_changes')
    env.db.exec("UPDATE t1 SET name = 'after the gap' WHERE id < 5")
    const run = await once(env)
    expect(run.stderr).toMatch(/gap/)
    const doc = await timeline(env)
    expect(doc.generations).toHaveLength(2)
    expect(doc.window.at(-1)!.generation).toBe(doc.generations[1]!.id)
    expect(await restoredPrint(env, doc.window.at(-1)!.to)).toEqual(await liveFingerprint(env.ctx))
  })

  it('a few changes deleted from the middle of the changelog: reported as a gap, the latest restores', async () => {
    const env = await setup()
    await once(env)
    const insert = env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
    for (let i = 0; i < 20; i++) insert.run(`row ${i}`, i)
    const seqs = env.db.prepare('SELECT seq FROM _drkit_changes WHERE seq > 0 ORDER BY seq').pluck().all() as number[]
    expect(seqs).toHaveLength(20)
    // Someone reclaims space by deleting a few rows, not all of them.
    env.db.prepare('DELETE FROM _drkit_changes WHERE seq BETWEEN ? AND ?').run(seqs[8], seqs[10])
    const run = await once(env)
    const doc = await timeline(env)
    const latest = await restoreAt(env, doc.window.at(-1)!.to)
    const live = await liveFingerprint(env.ctx)
    const restored = latest.run.code === 0 ? await targetFingerprint(env.ctx, latest.target) : undefined
    expect(
      {
        gapReported: /gap/.test(run.stderr),
        latestRestores: latest.run.code === 0,
        matches: restored !== undefined && JSON.stringify(restored) === JSON.stringify(live),
      },
      `agent: ${run.stderr}\nrestore: ${latest.run.stderr}`,
    ).toEqual({ gapReported: true, latestRestores: true, matches: true })
  })
})

describe('clean shutdown', () => {
  it('SIGTERM right after writes ships them before the agent exits 0', async () => {
    // A long interval: only the flush at shutdown can ship these writes.
    const env = await setup({ interval: '1h' })
    const agent = await startAgent(env)
    await waitFor('the first head', async () =>
      (await readTimeline(env.ctx, 'app-db')).timeline.generations[0]?.head ? true : undefined,
    )
    const insert = env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
    for (let i = 0; i < 30; i++) env.db.transaction(() => insert.run(`flushed ${i}`, BigInt(2 ** 53) + BigInt(i)))()
    env.db.exec("UPDATE t1 SET name = 'last write' WHERE id = 3")
    const lastWrite = Date.now()
    const run = await stopAgent(agent)
    expect(run.stderr).toMatch(/agent.stopped/)
    expect(changelogRows(env.app)).toBe(0)
    const doc = await timeline(env)
    const latest = doc.window.at(-1)!.to
    expect(Date.parse(latest)).toBeGreaterThanOrEqual(lastWrite)
    const { run: restored, target } = await restoreAt(env, latest)
    expect(restored.code, restored.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, target)).toEqual(await liveFingerprint(env.ctx))
    expect(schemaObjects(target, '\\_drkit\\_%'), 'capture objects in the restored copy').toEqual([])
  })
})

describe('bookmarks without a running agent', () => {
  it('ship what is captured before they are written, and restore exactly', async () => {
    const env = await setup()
    await once(env)
    env.db.exec("INSERT INTO t1 (name, v) VALUES ('unshipped', x''); UPDATE t1 SET v = 1e308 WHERE id = 9")
    const print = await liveFingerprint(env.ctx)
    const marked = await env.drkit('bookmark', 'app-db', 'no-agent', '--json')
    expect(marked.code, marked.stderr).toBe(0)
    env.db.exec("DELETE FROM t1 WHERE id < 10; INSERT INTO t1 (name) VALUES ('after the bookmark')")
    await once(env)
    const target = join(env.dir, 'bookmark.db')
    const run = await env.drkit('restore', 'app-db', '--to', target, '--bookmark', 'no-agent')
    expect(run.code, run.stderr).toBe(0)
    expect(await targetFingerprint(env.ctx, target)).toEqual(print)
  })
})

describe('capture remove', () => {
  it('takes every drkit object out, the application keeps working, a second remove says so', {
    timeout: 60_000,
  }, async () => {
    const env = await setup()
    await once(env)
    const agent = await startAgent(env)
    const refused = await env.drkit('capture', 'remove', 'app-db')
    expect(refused.code, refused.stderr).toBe(1)
    expect(refused.stderr).toMatch(/locked/)
    await stopAgent(agent)
    env.db.exec("INSERT INTO t1 (name, v) VALUES ('unshipped', 1); DELETE FROM t1 WHERE id = 7")
    const beforeRemoval = await liveFingerprint(env.ctx)

    const removed = await env.drkit('capture', 'remove', 'app-db', '--json')
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.json()).toMatchObject({ resource: 'app-db', removed: true })
    expect(schemaObjects(env.app, '\\_drkit\\_%')).toEqual([])
    // Nothing of drkit's is left, not even an AUTOINCREMENT counter (the application's tables have none).
    expect(schemaObjects(env.app, 'sqlite\\_sequence')).toEqual([])
    // What was captured before the removal was shipped first.
    const doc = await timeline(env)
    expect(await restoredPrint(env, doc.window.at(-1)!.to)).toEqual(beforeRemoval)

    env.db.exec("INSERT INTO t1 (name, v) VALUES ('without capture', 2); UPDATE t1 SET v = 0 WHERE id = 1")
    env.db.exec('DELETE FROM t1 WHERE id = 2')
    expect(query<number>(env.app, 'SELECT count(*) FROM t1')).toBe(20)

    const again = await env.drkit('capture', 'remove', 'app-db')
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/not installed/)
    const againJson = await env.drkit('capture', 'remove', 'app-db', '--json')
    expect(againJson.json()).toMatchObject({ removed: false })
  })
})

describe('a context kept open, as an application or a server keeps one', () => {
  it('restores a snapshot that another process took after the context first read the repository', async () => {
    const env = await setup()
    await once(env)
    // The first restore reads the repository, its pack index included, through env.ctx.
    await restore(env.ctx, { resource: 'app-db', target: join(env.dir, 'first.db') })
    env.db.exec("INSERT INTO t1 (name, v) VALUES ('new pages', randomblob(20000)); UPDATE t1 SET v = 0")
    const backup = await env.drkit('backup', 'app-db')
    expect(backup.code, backup.stderr).toBe(0)
    const target = join(env.dir, 'second.db')
    await restore(env.ctx, { resource: 'app-db', target })
    expect(await targetFingerprint(env.ctx, target)).toEqual(await liveFingerprint(env.ctx))
  })
})

describe('two agents on one resource', () => {
  it('the second exits 1 naming the holder of the lock', async () => {
    const env = await setup()
    const first = await startAgent(env)
    for (const args of [['agent'], ['agent', '--once']]) {
      const second = await env.drkit(...args)
      expect(second.code, second.stderr).toBe(1)
      expect(second.stderr).toMatch(/locked by "drkit agent/)
      expect(second.stderr).toContain(`pid ${first.pid}`)
    }
    await stopAgent(first)
  })
})

describe('bad input', () => {
  it('a moment before the window, an unknown bookmark, a garbled moment, a bookmark without capture', async () => {
    const env = await setup({ extra: '  other-db:\n    type: sqlite\n    path: ./other.db\n' })
    new Database(join(env.dir, 'other.db')).close()
    await once(env)
    const doc = await timeline(env)
    const from = doc.window[0]!.from

    const early = await restoreAt(env, Date.parse(from) - 3_600_000)
    expect(early.run.code, early.run.stderr).toBe(1)
    expect(early.run.stderr).toMatch(/recoverable window/)
    expect(early.run.stderr).toContain(from)
    expect(existsSync(early.target)).toBe(false)

    const unknown = join(env.dir, 'unknown.db')
    const bookmark = await env.drkit('restore', 'app-db', '--to', unknown, '--bookmark', 'no-such-mark')
    expect(bookmark.code, bookmark.stderr).toBe(1)
    expect(bookmark.stderr).toContain('no-such-mark')
    expect(existsSync(unknown)).toBe(false)

    for (const garbage of ['garbage', 'yesterday at noon', '2026-13-45T99:00:00Z']) {
      const bad = await restoreAt(env, garbage)
      expect(bad.run.code, `--at ${garbage}: ${bad.run.stderr}`).toBe(2)
      expect(bad.run.stderr).toContain(garbage)
      expect(existsSync(bad.target)).toBe(false)
    }

    const both = await env.drkit('restore', 'app-db', '--to', join(env.dir, 'both.db'), '--at', from, '--bookmark', 'x')
    expect(both.code, both.stderr).toBe(2)

    const noCapture = await env.drkit('bookmark', 'other-db', 'mark')
    expect(noCapture.code, noCapture.stderr).toBe(2)
    expect(noCapture.stderr).toMatch(/capture/)
    const marks = await env.drkit('bookmarks', '--json')
    expect(marks.stdout).not.toContain('"mark"')
  })

  it('reads the documented relative form `--at -1h` as a moment, as it reads `--at=-1h`', async () => {
    const env = await setup()
    await once(env)
    const results: Record<string, { code: number | null; window: boolean }> = {}
    for (const form of [['--at=-1h'], ['--at', '-1h']]) {
      const run = await env.drkit('restore', 'app-db', '--to', join(env.dir, 'relative.db'), ...form)
      results[form.join(' ')] = { code: run.code, window: /recoverable window/.test(run.stderr) }
    }
    // An hour ago is before the first snapshot: the restore runs and fails naming the window (exit 1).
    expect(results).toEqual({
      '--at=-1h': { code: 1, window: true },
      '--at -1h': { code: 1, window: true },
    })
  })
})

describe('moments without a proven boundary close by', () => {
  it('between two agent --once passes: the earlier proven boundary, never part of a transaction', async () => {
    const env = await setup()
    await once(env)
    env.db.exec("INSERT INTO t1 (name, v) VALUES ('w0', 0); UPDATE t1 SET v = -v WHERE id < 4")
    await once(env)
    const proven = await liveFingerprint(env.ctx)
    env.db.transaction(() => {
      const insert = env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
      for (let i = 0; i < 200; i++) insert.run(`txn A ${i}`, i)
      env.db.exec('UPDATE t1 SET v = 1 WHERE id % 2 = 0')
    })()
    const between = await quietMoment(env, 50)
    env.db.transaction(() => {
      env.db.exec("DELETE FROM t1 WHERE id % 3 = 0; INSERT INTO t1 (name) VALUES ('txn B')")
    })()
    await once(env)
    expect(await restoredPrint(env, between.at), 'the moment between the passes').toEqual(proven)
    const doc = await timeline(env)
    expect(await restoredPrint(env, doc.window.at(-1)!.to), 'the latest moment').toEqual(await liveFingerprint(env.ctx))
  })

  it('a transaction larger than one read of the changelog (10,000 changes) is never split', {
    timeout: 60_000,
  }, async () => {
    const env = await setup()
    const agent = await startAgent(env)
    env.db.exec("INSERT INTO t1 (name) VALUES ('before')")
    const before = await quietMoment(env)
    await waitRestorable(env.ctx, before.at)
    env.db.transaction(() => {
      const insert = env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
      for (let i = 0; i < 12_000; i++) insert.run(`bulk ${i}`, i)
    })()
    const after = await quietMoment(env)
    await waitRestorable(env.ctx, after.at)
    await stopAgent(agent)
    const atBefore = await restoreAt(env, before.at)
    expect(atBefore.run.code, atBefore.run.stderr).toBe(0)
    expect(
      query<number>(atBefore.target, 'SELECT count(*) FROM t1'),
      'rows restored at a moment before the big transaction (21 then)',
    ).toBe(21)
    expect(await targetFingerprint(env.ctx, atBefore.target)).toEqual(before.print)
    expect(await restoredPrint(env, after.at)).toEqual(after.print)
  })

  it('a backlog larger than one read, written while no agent ran: moments inside it restore to before it', async () => {
    const env = await setup()
    await once(env)
    const proven = await liveFingerprint(env.ctx)
    // 4,000 transactions of 3 rows each: 12,000 changes for the next agent to ship.
    const insert = env.db.prepare('INSERT INTO t1 (name, v) VALUES (?, ?)')
    const txn = env.db.transaction((k: number) => {
      for (let j = 0; j < 3; j++) insert.run(`backlog ${k}.${j}`, k)
    })
    for (let k = 0; k < 1000; k++) txn(k)
    const inside = await quietMoment(env, 20)
    for (let k = 1000; k < 4000; k++) txn(k)
    await once(env)
    const { run, target } = await restoreAt(env, inside.at)
    expect(run.code, run.stderr).toBe(0)
    expect(
      query<number>(target, 'SELECT count(*) FROM t1'),
      'rows restored inside the backlog: 20 before it (no boundary was proven within it)',
    ).toBe(20)
    expect(await targetFingerprint(env.ctx, target)).toEqual(proven)
  })
})
