/**
 * The command line end to end, as a user runs it: the built binary spawned in a temporary
 * folder holding a plan and real SQLite files. Exit codes: 0 success, 1 the operation ran and
 * failed, 2 bad usage or configuration.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type CliRun, runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

type Row = Record<string, unknown>
/** Every user table's rows in rowid order: a whole database state, to compare two of them. */
type Dump = Record<string, Row[]>

interface TableCount {
  name: string
  rows: number
}

interface BackupDoc {
  snapshots: {
    resource: string
    id: string
    time: string
    size: number
    newBytes: number
    storedBytes: number
    durationMs: number
    tables: TableCount[]
  }[]
}

interface SnapshotsDoc {
  snapshots: { id: string; resource: string; time: string; size: number; newBytes: number; tables: TableCount[] }[]
}

interface ErrorDoc {
  error: { code: string; message: string; hint?: string }
}

/** A seeded generator (mulberry32), so that every run writes the same data. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomText(next: () => number, length: number): string {
  let text = ''
  for (let i = 0; i < length; i++) text += String.fromCharCode(97 + Math.floor(next() * 26))
  return text
}

function randomBlob(next: () => number, length: number): Buffer {
  const blob = Buffer.alloc(length)
  for (let i = 0; i < length; i++) blob[i] = Math.floor(next() * 256)
  return blob
}

function insertItems(db: Database.Database, next: () => number, count: number): void {
  const insert = db.prepare('INSERT INTO items (name, qty, price, payload, note) VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      insert.run(
        randomText(next, 5 + Math.floor(next() * 20)),
        Math.floor(next() * 1000),
        Math.round(next() * 100_000) / 100,
        randomBlob(next, Math.floor(next() * 300)),
        next() < 0.3 ? null : randomText(next, 40),
      )
    }
  })()
}

/** A database with two tables and an index, seeded. */
function createDatabase(path: string, seed: number, opts: { wal?: boolean } = {}): Database.Database {
  const db = new Database(path)
  if (opts.wal) {
    db.pragma('journal_mode = WAL')
    // Keep committed pages in the WAL, as on a busy live database: the snapshot must read them there.
    db.pragma('wal_autocheckpoint = 0')
  }
  db.exec(`
    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, price REAL, payload BLOB, note TEXT);
    CREATE INDEX items_name ON items (name);
    CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL);
  `)
  const next = random(seed)
  insertItems(db, next, 400)
  const event = db.prepare('INSERT INTO events (at, kind) VALUES (?, ?)')
  for (let i = 0; i < 50; i++) event.run(new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), randomText(next, 8))
  return db
}

function userTables(db: Database.Database): string[] {
  return db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[]
}

function dump(db: Database.Database): Dump {
  const state: Dump = {}
  for (const name of userTables(db)) state[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all() as Row[]
  return state
}

function counts(db: Database.Database): TableCount[] {
  return Object.entries(dump(db)).map(([name, rows]) => ({ name, rows: rows.length }))
}

/** The state of a database file on disk, and whether SQLite finds it sound. */
function inspect(path: string): { dump: Dump; integrity: string } {
  const db = new Database(path, { fileMustExist: true })
  try {
    return { dump: dump(db), integrity: String(db.pragma('integrity_check', { simple: true })) }
  } finally {
    db.close()
  }
}

/** Every file below dir (relative paths, sorted): a repository's content, to show nothing was added. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return []
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

/** A failed run: its exit code and its message (stderr: `drkit: message` then the hint). */
function expectFailure(run: CliRun, code: 1 | 2): string {
  expect(run.code, run.stderr).toBe(code)
  expect(run.stderr).toMatch(/^drkit: /m)
  return run.stderr
}

/** A --json failure: stdout is exactly one document `{ error: { code, message, hint } }`. */
function expectJsonFailure(run: CliRun, code: 1 | 2): ErrorDoc['error'] {
  expect(run.code, run.stdout + run.stderr).toBe(code)
  const doc = run.json<ErrorDoc>()
  expect(Object.keys(doc)).toEqual(['error'])
  expect(typeof doc.error.code).toBe('string')
  expect(typeof doc.error.message).toBe('string')
  return doc.error
}

/**
 * A fresh folder for the current test, removed when it finishes. tempDir() registers its cleanup with
 * afterEach, which does nothing when called inside a running test, so the removal is registered here too.
 */
async function scratch(): Promise<string> {
  const dir = await tempDir('drkit-cli-')
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return realpath(dir)
}

function expectOk(run: CliRun): CliRun {
  expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0)
  return run
}

/** A folder with a plan (default sqlitePlan(): app-db at ./app.db, repository ./repo), then `drkit init`. */
async function project(opts: { plan?: string; repository?: boolean } = {}): Promise<{
  dir: string
  drkit: (...args: string[]) => Promise<CliRun>
}> {
  const dir = await scratch()
  const drkit = (...args: string[]) => runCli(args, { cwd: dir })
  await writeFile(join(dir, 'drkit.yaml'), opts.plan ?? sqlitePlan())
  if (opts.repository !== false) expectOk(await drkit('init'))
  return { dir, drkit }
}

describe('drkit init', () => {
  it('writes a commented plan and creates the repository; a second run changes nothing', async () => {
    const dir = await scratch()
    const first = expectOk(await runCli(['init'], { cwd: dir }))
    expect(first.stdout).toContain(join(dir, 'drkit.yaml'))
    expect(first.stdout).toMatch(/created the repository/)

    const plan = await readFile(join(dir, 'drkit.yaml'), 'utf8')
    expect(plan).toMatch(/^# /m)
    expect(plan).toMatch(/^repository: \.\/\.drkit\/repo/m)
    expect(plan).toMatch(/^ {4}type: sqlite/m)
    const config = join(dir, '.drkit', 'repo', 'config')
    const configBytes = await readFile(config)

    // The plan it wrote is valid: a command that loads it and opens the repository works.
    const listed = expectOk(await runCli(['snapshots', '--json'], { cwd: dir }))
    expect(listed.json<SnapshotsDoc>()).toEqual({ snapshots: [] })

    const again = expectOk(await runCli(['init', '--json'], { cwd: dir }))
    expect(again.json()).toEqual({
      config: join(dir, 'drkit.yaml'),
      wrotePlan: false,
      repository: join(dir, '.drkit', 'repo'),
      createdRepository: false,
    })
    expect(await readFile(config)).toEqual(configBytes)
    expect(await readFile(join(dir, 'drkit.yaml'), 'utf8')).toBe(plan)
    expect(await filesUnder(join(dir, '.drkit'))).toEqual(['repo/config'])

    const human = expectOk(await runCli(['init'], { cwd: dir }))
    expect(human.stdout).toMatch(/already exists/)
    expect(await readFile(config)).toEqual(configBytes)
  })

  it('leaves an existing plan alone and creates the repository it names', async () => {
    const dir = await scratch()
    const plan = sqlitePlan().replace('repository: ./repo', 'repository: ./elsewhere')
    await writeFile(join(dir, 'drkit.yaml'), plan)
    const run = expectOk(await runCli(['init'], { cwd: dir }))
    expect(run.stdout).toContain(join(dir, 'elsewhere'))
    expect(await readFile(join(dir, 'drkit.yaml'), 'utf8')).toBe(plan)
    expect(existsSync(join(dir, 'elsewhere', 'config'))).toBe(true)
    expect(existsSync(join(dir, '.drkit'))).toBe(false)
    expect(existsSync(join(dir, 'repo'))).toBe(false)
  })
})

describe('backup, snapshots, restore and verify', () => {
  it('backs up a live database, lists its snapshots and restores the latest and an older one', async () => {
    const { dir, drkit } = await project()
    // The application keeps its connection open: its latest commits are in the WAL.
    const db = createDatabase(join(dir, 'app.db'), 1, { wal: true })
    try {
      expect(existsSync(join(dir, 'app.db-wal'))).toBe(true)
      const v1 = dump(db)

      const first = expectOk(await drkit('backup', 'app-db', '--json'))
      const [older, ...others] = first.json<BackupDoc>().snapshots
      expect(others).toEqual([])
      expect(older).toMatchObject({ resource: 'app-db', tables: counts(db) })
      expect(older!.id).toMatch(/^[0-9a-f]{64}$/)
      expect(Number.isNaN(Date.parse(older!.time))).toBe(false)
      expect(older!.size).toBe(
        Number(db.pragma('page_size', { simple: true })) * Number(db.pragma('page_count', { simple: true })),
      )
      expect(older!.newBytes).toBeGreaterThan(0)
      expect(older!.storedBytes).toBeGreaterThan(0)
      expect(older!.durationMs).toBeGreaterThanOrEqual(0)

      // Change every kind of thing: new, updated and deleted rows, a new table.
      const next = random(2)
      insertItems(db, next, 200)
      db.exec("UPDATE items SET qty = qty + 1, note = 'changed' WHERE id % 7 = 0")
      db.exec('DELETE FROM items WHERE id % 11 = 0')
      db.exec('DELETE FROM events WHERE id > 40')
      db.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)')
      db.prepare('INSERT INTO audit (what) VALUES (?)').run('second version')
      const v2 = dump(db)
      expect(v2).not.toEqual(v1)

      const second = expectOk(await drkit('backup'))
      const listed = expectOk(await drkit('snapshots', '--json')).json<SnapshotsDoc>().snapshots
      expect(listed.map((s) => s.id)).toHaveLength(2)
      expect(listed[0]).toEqual({
        id: older!.id,
        resource: 'app-db',
        time: older!.time,
        size: older!.size,
        newBytes: older!.newBytes,
        tables: older!.tables,
      })
      const latest = listed[1]!
      expect(latest.id).toMatch(/^[0-9a-f]{64}$/)
      expect(latest.id).not.toBe(older!.id)
      expect(latest).toMatchObject({ resource: 'app-db', tables: counts(db) })
      expect(latest.tables.map((t) => t.name)).toEqual(['audit', 'events', 'items'])
      expect(latest.newBytes).toBeGreaterThan(0)
      // The human output names the new snapshot by its short id.
      expect(second.stdout).toContain(latest.id.slice(0, 8))
      expect(second.stdout).toContain('app-db')

      const table = expectOk(await drkit('snapshots', 'app-db')).stdout
      expect(table).toContain(older!.id.slice(0, 8))
      expect(table).toContain(latest.id.slice(0, 8))
      expect(table).toContain(`items:${v2.items!.length}`)
      expect(table).toContain(`audit:1`)

      // The latest snapshot, into a new file.
      const target = join(dir, 'restored.db')
      const restored = expectOk(await drkit('restore', 'app-db', '--to', './restored.db', '--json'))
      expect(restored.json()).toMatchObject({ resource: 'app-db', snapshot: latest.id, target })
      expect(inspect(target)).toEqual({ dump: v2, integrity: 'ok' })

      // An existing target is refused and left as it was.
      const before = await readFile(target)
      const refused = expectFailure(await drkit('restore', 'app-db', '--to', './restored.db'), 1)
      expect(refused).toContain(target)
      expect(refused).toContain('--force')
      expect(await readFile(target)).toEqual(before)

      // --force replaces it; --snapshot with 8 digits picks the older snapshot.
      const prefix = older!.id.slice(0, 8)
      const forced = expectOk(
        await drkit('restore', 'app-db', '--to', './restored.db', '--snapshot', prefix, '--force', '--json'),
      )
      expect(forced.json()).toMatchObject({ snapshot: older!.id, target })
      expect(inspect(target)).toEqual({ dump: v1, integrity: 'ok' })

      // The source was not touched by any of it.
      expect(dump(db)).toEqual(v2)

      const verified = expectOk(await drkit('verify'))
      expect(verified.stdout).toMatch(/^ok: 2 snapshots/)
      const readData = expectOk(await drkit('verify', '--read-data', '--json')).json<{
        ok: boolean
        snapshots: number
        bytesRead: number
        problems: unknown[]
      }>()
      expect(readData).toMatchObject({ ok: true, snapshots: 2, problems: [] })
      expect(readData.bytesRead).toBeGreaterThan(0)
    } finally {
      db.close()
    }
  })

  it('backs up every resource when none is named', async () => {
    const plan = sqlitePlan('  other-db:\n    type: sqlite\n    path: ./other.db\n')
    const { dir, drkit } = await project({ plan })
    const app = createDatabase(join(dir, 'app.db'), 3)
    const other = createDatabase(join(dir, 'other.db'), 4)
    other.exec('DELETE FROM items WHERE id > 100')
    const expected = { 'app-db': counts(app), 'other-db': counts(other) }
    app.close()
    other.close()

    const run = expectOk(await drkit('backup', '--json'))
    const taken = run.json<BackupDoc>().snapshots
    expect(taken.map((s) => [s.resource, s.tables])).toEqual(Object.entries(expected))

    const listed = expectOk(await drkit('snapshots', 'other-db', '--json')).json<SnapshotsDoc>().snapshots
    expect(listed.map((s) => [s.id, s.resource, s.tables])).toEqual([[taken[1]!.id, 'other-db', expected['other-db']]])
  })
})

describe('usage', () => {
  it('shows help, and rejects a missing or unknown command with exit 2', async () => {
    const dir = await scratch()
    const help = expectOk(await runCli(['restore', '--help'], { cwd: dir }))
    expect(help.stdout).toMatch(/^Usage: drkit restore RESOURCE --to TARGET/)

    const none = await runCli([], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stdout).toMatch(/^Usage: drkit <command>/)

    expect(expectFailure(await runCli(['bogus'], { cwd: dir }), 2)).toMatch(/unknown command "bogus"/)
    expect(expectFailure(await runCli(['backup', '--bogus'], { cwd: dir }), 2)).toMatch(/--bogus/)
    // Nothing was written.
    expect(await readdir(dir)).toEqual([])
  })
})

describe('bad input: a clear message, the right exit code, and nothing changed', () => {
  it('without a plan, says to run drkit init', async () => {
    const dir = await scratch()
    const message = expectFailure(await runCli(['backup'], { cwd: dir }), 2)
    expect(message).toContain(join(dir, 'drkit.yaml'))
    expect(message).toContain('drkit init')
    expect(await readdir(dir)).toEqual([])
  })

  it('names the line of malformed YAML and the dotted path of every bad field', async () => {
    const { dir, drkit } = await project()
    createDatabase(join(dir, 'app.db'), 5).close()
    const repository = await filesUnder(join(dir, 'repo'))

    await writeFile(join(dir, 'broken.yaml'), sqlitePlan().replace('type: sqlite', 'type: sqlite: oops'))
    const yaml = expectFailure(await drkit('backup', '--config', 'broken.yaml'), 2)
    expect(yaml).toContain(join(dir, 'broken.yaml'))
    expect(yaml).toMatch(/not valid YAML/)
    expect(yaml).toMatch(/line 4\b/)

    await writeFile(join(dir, 'rpo.yaml'), sqlitePlan('    objectives: { rpo: 5 sekonds }\n'))
    const rpo = expectFailure(await drkit('backup', '-c', 'rpo.yaml'), 2)
    expect(rpo).toMatch(/resources\.app-db\.objectives\.rpo: .*5 sekonds/)

    await writeFile(
      join(dir, 'two.yaml'),
      sqlitePlan('    objectives: { rpo: 5 sekonds }\n    retention: { daily: many }\n'),
    )
    const two = expectJsonFailure(await drkit('backup', '--config', 'two.yaml', '--json'), 2)
    expect(two.code).toBe('plan')
    expect(two.message).toMatch(/resources\.app-db\.objectives\.rpo/)
    expect(two.message).toMatch(/resources\.app-db\.retention\.daily/)

    expect(await filesUnder(join(dir, 'repo'))).toEqual(repository)
  })

  it('lists the known resources for an unknown one', async () => {
    const { dir, drkit } = await project()
    createDatabase(join(dir, 'app.db'), 6).close()
    const repository = await filesUnder(join(dir, 'repo'))

    const backup = expectFailure(await drkit('backup', 'app-db', 'nope'), 2)
    expect(backup).toMatch(/no resource "nope"/)
    expect(backup).toContain('app-db')

    const restore = expectJsonFailure(await drkit('restore', 'nope', '--to', './x.db', '--json'), 2)
    expect(restore.message).toMatch(/no resource "nope"/)
    expect(restore.hint).toContain('app-db')
    expect(existsSync(join(dir, 'x.db'))).toBe(false)

    // Naming a bad resource with a good one backs up neither.
    expect(await filesUnder(join(dir, 'repo'))).toEqual(repository)
  })

  it('refuses a file that is not a SQLite database, and a missing one, without creating it', async () => {
    const plan = sqlitePlan(
      '  notes:\n    type: sqlite\n    path: ./notes.txt\n  gone:\n    type: sqlite\n    path: ./gone.db\n',
    )
    const { dir, drkit } = await project({ plan })
    const notes = 'these are notes, not a database\n'.repeat(200)
    await writeFile(join(dir, 'notes.txt'), notes)
    const repository = await filesUnder(join(dir, 'repo'))

    const text = await drkit('backup', 'notes')
    expect(text.code).not.toBe(0)
    expect(text.stderr).toMatch(/is not a SQLite database/)
    expect(text.stderr).toContain(join(dir, 'notes.txt'))
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe(notes)

    const missing = await drkit('backup', 'gone')
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain(join(dir, 'gone.db'))
    expect(missing.stderr).toMatch(/no database/)
    expect(existsSync(join(dir, 'gone.db'))).toBe(false)

    expect(await filesUnder(join(dir, 'repo'))).toEqual(repository)
    expect(expectOk(await drkit('snapshots', '--json')).json<SnapshotsDoc>()).toEqual({ snapshots: [] })
  })

  it('says to run drkit init when the repository is missing, as one JSON document with --json', async () => {
    const { dir, drkit } = await project({ repository: false })
    createDatabase(join(dir, 'app.db'), 7).close()

    const human = expectFailure(await drkit('backup', 'app-db'), 1)
    expect(human).toContain(join(dir, 'repo'))
    expect(human).toContain('drkit init')

    const json = expectJsonFailure(await drkit('restore', 'app-db', '--to', './restored.db', '--json'), 1)
    expect(json).toEqual({
      code: 'not-found',
      message: expect.stringContaining(join(dir, 'repo')),
      hint: expect.stringContaining('drkit init'),
    })

    expect(existsSync(join(dir, 'repo'))).toBe(false)
    expect(existsSync(join(dir, 'restored.db'))).toBe(false)
  })

  it('refuses a restore without --to, or of an unknown snapshot', async () => {
    const { dir, drkit } = await project()
    createDatabase(join(dir, 'app.db'), 8).close()
    expectOk(await drkit('backup'))
    const repository = await filesUnder(join(dir, 'repo'))

    const noTarget = expectFailure(await drkit('restore', 'app-db'), 2)
    expect(noTarget).toMatch(/--to/)

    const unknown = expectFailure(await drkit('restore', 'app-db', '--snapshot', 'deadbeef', '--to', './x.db'), 1)
    expect(unknown).toContain('deadbeef')
    expect(existsSync(join(dir, 'x.db'))).toBe(false)

    expect(await filesUnder(join(dir, 'repo'))).toEqual(repository)
    expect(await readdir(dir)).toEqual(expect.not.arrayContaining(['x.db']))
  })

  it('restores into a folder that does not exist, or explains why not, rather than reporting a bug', async () => {
    const { dir, drkit } = await project()
    const db = createDatabase(join(dir, 'app.db'), 9)
    const state = dump(db)
    db.close()
    expectOk(await drkit('backup'))

    const run = await drkit('restore', 'app-db', '--to', './missing/restored.db', '--json')
    if (run.code === 0) {
      expect(inspect(join(dir, 'missing', 'restored.db'))).toEqual({ dump: state, integrity: 'ok' })
      return
    }
    const error = expectJsonFailure(run, 1)
    // A user's mistake, not an internal error: name the target (not a temporary file) and say what to do.
    expect(error.code).not.toBe('internal')
    expect(error.message).toContain(join(dir, 'missing'))
    expect(error.message).not.toMatch(/drkit-[0-9a-f]{8}/)
    expect(error.hint).toBeTruthy()
  })
})
