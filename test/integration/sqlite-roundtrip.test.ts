/**
 * SQLite round trip through the library: a database using every storage class and the
 * schema objects SQLite has is backed up and restored, in WAL mode (with un-checkpointed
 * frames, and a rolled-back spilled transaction after them, in the -wal file while the
 * snapshot is taken) and in rollback-journal mode (with an uncommitted write transaction
 * open during the snapshot), at page sizes 4096, 65536 and 512 (the last two with
 * incremental auto_vacuum, so that the file shrinks). The restored file must match the
 * source by fingerprint, by `sqlite3 .dump` and value by value. Also: a 0-byte database.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { restore } from '../../src/ops/restore.js'
import {
  integrityCheck,
  openSqliteRepo,
  seededBytes,
  seededRandom,
  seededText,
  sqliteDump,
} from '../support/sqlite-correctness.js'
import { tempDir } from '../support/tmp.js'

type JournalMode = 'wal' | 'delete'
type Value = bigint | number | string | Buffer | null

const seed = 20260227
const oddTable = 'odd "quoted" name with spaces'
const oddTableSql = '"odd ""quoted"" name with spaces"'

/** The tricky values of table `kinds` (id, i INTEGER, r REAL, t TEXT, b BLOB, any_value with no type). */
function trickyRows(): Value[][] {
  const random = seededRandom(seed)
  const nulBlob = Buffer.from([0, 1, 0, 255, 0, 0])
  return [
    [1n, 2n ** 63n - 1n, 0.1 + 0.2, 'emoji 😀👨‍👩‍👧‍👦🏳️‍🌈', Buffer.alloc(0), -0],
    [2n, -(2n ** 63n), 1e-310, '中文 日本語 한국어 𠜎𠜱', nulBlob, 5e-324],
    [3n, 2n ** 53n + 1n, Number.MAX_VALUE, 'e\u0301 a\u0308 combining Z\u0351\u0352\u0353', null, Number.MAX_VALUE],
    [4n, null, -Number.MAX_VALUE, 'nul\u0000inside text', seededBytes(random, 1024 * 1024), -Number.MAX_VALUE],
    [5n, 0n, Number.MIN_VALUE, '', Buffer.from([0]), Buffer.from('\u0000blob\u0000with nul\u0000')],
    [6n, -(2n ** 53n) - 1n, Number.POSITIVE_INFINITY, 'right-to-left \u202eabc עברית العربية', null, 1e-310],
    [7n, 9007199254740993n, Number.NEGATIVE_INFINITY, '\ufeffBOM and \u{10ffff} max code point', null, null],
    [8n, 1n, 123456789.12345679, 'x'.repeat(3000), seededBytes(random, 70_000), 0.30000000000000004],
  ]
}

/** A canonical, type-tagged description of a value: reals by their IEEE bits, so -0 and 0 differ. */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'bigint') return `integer ${value}`
  if (typeof value === 'number') {
    const bits = Buffer.alloc(8)
    bits.writeDoubleBE(value)
    return `real ${Object.is(value, -0) ? '-0' : value} (${bits.toString('hex')})`
  }
  if (typeof value === 'string') return `text ${JSON.stringify(value.length > 200 ? sha(value) : value)}`
  const blob = value as Buffer
  return `blob ${blob.length}:${blob.length > 64 ? sha(blob) : blob.toString('hex')}`
}

function sha(data: string | Buffer): string {
  return `sha256 ${createHash('sha256').update(data).digest('hex')}`
}

function readKinds(path: string): string[][] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const rows = db
      .prepare('SELECT id, i, r, t, b, any_value FROM kinds ORDER BY id')
      .raw(true)
      .safeIntegers(true)
      .all()
    return (rows as unknown[][]).map((row) => row.map(describeValue))
  } finally {
    db.close()
  }
}

const schema = `
  CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, any_value);
  CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
  CREATE TABLE child (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
    note TEXT
  );
  CREATE INDEX child_parent ON child (parent_id);
  CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    score REAL,
    active INTEGER NOT NULL DEFAULT 1,
    name_upper TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL,
    name_length INTEGER GENERATED ALWAYS AS (length(name)) STORED
  );
  CREATE INDEX people_lower_name ON people (lower(name));
  CREATE INDEX people_active_email ON people (email) WHERE active = 1;
  CREATE INDEX people_score_desc ON people (score DESC, id);
  CREATE TABLE kv (k TEXT NOT NULL, sub INTEGER NOT NULL, v BLOB, PRIMARY KEY (k, sub)) WITHOUT ROWID;
  CREATE TABLE names (name TEXT PRIMARY KEY COLLATE NOCASE, n INTEGER) WITHOUT ROWID;
  CREATE TABLE audit (id INTEGER PRIMARY KEY, person INTEGER, what TEXT);
  CREATE TRIGGER people_score_audit AFTER UPDATE OF score ON people BEGIN
    INSERT INTO audit (person, what) VALUES (new.id, 'score ' || old.score || ' -> ' || new.score);
  END;
  CREATE TRIGGER people_delete_audit BEFORE DELETE ON people BEGIN
    INSERT INTO audit (person, what) VALUES (old.id, 'deleted ' || old.name);
  END;
  CREATE VIEW active_people AS SELECT id, name, score FROM people WHERE active = 1;
  CREATE VIEW parent_children AS
    SELECT p.name, count(c.id) AS children FROM parent p LEFT JOIN child c ON c.parent_id = p.id GROUP BY p.id;
  CREATE VIRTUAL TABLE docs USING fts5 (title, body);
  CREATE TABLE empty_table (id INTEGER PRIMARY KEY, x TEXT NOT NULL);
  CREATE TABLE ${oddTableSql} ("col with space" TEXT, "we""ird" INTEGER);
  CREATE TABLE strict_t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, t TEXT) STRICT;
  CREATE TABLE big (id INTEGER PRIMARY KEY, payload BLOB, text_payload TEXT);
  CREATE TABLE doomed (id INTEGER PRIMARY KEY, payload BLOB);
`

const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'straße', '東京', 'naïve']

function sentence(random: () => number, n: number): string {
  return Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ')
}

/** Phase one: the schema and most of the data (checkpointed into the main file in WAL mode). */
function fillFirst(app: Database.Database, random: () => number): void {
  app.exec(schema)
  app.transaction(() => {
    const parent = app.prepare('INSERT INTO parent (name) VALUES (?)')
    const child = app.prepare('INSERT INTO child (parent_id, note) VALUES (?, ?)')
    for (let p = 1; p <= 300; p++) {
      parent.run(`parent ${p} ${seededText(random, 8)}`)
      for (let c = 0; c < 3; c++) child.run(p, seededText(random, 40))
    }
    const person = app.prepare('INSERT INTO people (name, email, score, active) VALUES (?, ?, ?, ?)')
    for (let i = 0; i < 3000; i++) {
      const email = random() < 0.1 ? null : `user${i}@example.org`
      person.run(`${sentence(random, 2)} ${i}`, email, random() * 1000, random() < 0.7 ? 1 : 0)
    }
    const kv = app.prepare('INSERT INTO kv (k, sub, v) VALUES (?, ?, ?)')
    for (let i = 0; i < 2000; i++) kv.run(`key-${i % 400}-${seededText(random, 6)}`, i, seededBytes(random, 50))
    const name = app.prepare('INSERT INTO names (name, n) VALUES (?, ?)')
    for (let i = 0; i < 500; i++) name.run(`Name ${i} ${seededText(random, 10)}`, i)
    const doc = app.prepare('INSERT INTO docs (title, body) VALUES (?, ?)')
    for (let i = 0; i < 300; i++) doc.run(sentence(random, 3), sentence(random, 60))
    const odd = app.prepare(`INSERT INTO ${oddTableSql} ("col with space", "we""ird") VALUES (?, ?)`)
    for (let i = 0; i < 50; i++) odd.run(`it's "quoted" ${i}`, i)
    const strict = app.prepare('INSERT INTO strict_t (n, t) VALUES (?, ?)')
    for (let i = 0; i < 200; i++) strict.run(i * 7, seededText(random, 20))
    app
      .prepare('INSERT INTO big (payload, text_payload) VALUES (?, ?)')
      .run(seededBytes(random, 300_000), seededText(random, 100_000))
    const kind = app.prepare('INSERT INTO kinds (id, i, r, t, b, any_value) VALUES (?, ?, ?, ?, ?, ?)')
    for (const row of trickyRows().slice(0, 4)) kind.run(...row)
    const doomed = app.prepare('INSERT INTO doomed (payload) VALUES (?)')
    for (let i = 0; i < 150; i++) doomed.run(seededBytes(random, 20_000))
  })()
  app.exec('ANALYZE')
}

/** Phase two: updates, deletes, inserts and a schema change (left in the WAL in WAL mode). */
function fillSecond(app: Database.Database, random: () => number): void {
  app.transaction(() => {
    const kind = app.prepare('INSERT INTO kinds (id, i, r, t, b, any_value) VALUES (?, ?, ?, ?, ?, ?)')
    for (const row of trickyRows().slice(4)) kind.run(...row)
    const score = app.prepare('UPDATE people SET score = ? WHERE id = ?')
    for (let i = 0; i < 400; i++) score.run(random() * 1000, 1 + Math.floor(random() * 3000))
    app.prepare('DELETE FROM people WHERE id % 17 = 0').run()
    app.prepare('DELETE FROM parent WHERE id % 10 = 3').run()
    const person = app.prepare('INSERT INTO people (name, email, score, active) VALUES (?, ?, ?, ?)')
    for (let i = 0; i < 800; i++) person.run(`late ${sentence(random, 2)}`, `late${i}@example.org`, random(), i % 2)
    app.prepare('DELETE FROM docs WHERE rowid % 7 = 0').run()
    const doc = app.prepare('INSERT INTO docs (title, body) VALUES (?, ?)')
    for (let i = 0; i < 100; i++) doc.run(`late ${sentence(random, 2)}`, sentence(random, 40))
    app.prepare('UPDATE kv SET v = randomblob(0) WHERE sub % 5 = 0').run()
    app.prepare('UPDATE kv SET v = ? WHERE sub % 5 = 1').run(seededBytes(random, 120))
    app.prepare('UPDATE big SET payload = ? WHERE id = 1').run(seededBytes(random, 200_000))
    app
      .prepare('INSERT INTO big (payload, text_payload) VALUES (?, ?)')
      .run(seededBytes(random, 1024 * 1024 + 17), seededText(random, 150_000))
    app.exec(`
      CREATE TABLE late_table (id INTEGER PRIMARY KEY, v TEXT);
      CREATE INDEX late_table_v ON late_table (v) WHERE v IS NOT NULL;
      INSERT INTO late_table (v) VALUES ('a'), (NULL), ('c');
      DROP INDEX people_score_desc;
    `)
  })()
}

function walSize(db: string): number {
  try {
    return statSync(`${db}-wal`).size
  } catch {
    return 0
  }
}

function queryAll(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).raw(true).safeIntegers(true).all()
  } finally {
    db.close()
  }
}

async function roundTrip(journalMode: JournalMode, pageSize: number): Promise<void> {
  // auto_vacuum (pointer-map pages, a file that shrinks) at the unusual page sizes; none at the default.
  const autoVacuum = pageSize === 4096 ? 'none' : 'incremental'
  const dir = await tempDir('drkit-sqlite-roundtrip-')
  const repo = await openSqliteRepo(dir)
  const random = seededRandom(seed + pageSize)
  const app = new Database(repo.db)
  try {
    app.pragma(`page_size = ${pageSize}`)
    app.pragma(`auto_vacuum = ${autoVacuum}`)
    app.pragma(`journal_mode = ${journalMode}`)
    app.pragma('foreign_keys = ON')
    if (journalMode === 'wal') app.pragma('wal_autocheckpoint = 0')
    fillFirst(app, random)
    if (journalMode === 'wal') {
      app.pragma('wal_checkpoint(TRUNCATE)')
      expect(walSize(repo.db), 'the WAL is empty after the checkpoint').toBe(0)
    }
    fillSecond(app, random)
    // Freed pages: on the freelist (auto_vacuum none), or given back so that the file shrinks (incremental).
    app.exec('DROP TABLE doomed')
    app.exec('PRAGMA incremental_vacuum')
    const pageCount = Number(app.pragma('page_count', { simple: true }))
    if (autoVacuum === 'incremental' && journalMode === 'wal') {
      expect(statSync(repo.db).size, 'the database shrank in the WAL only').toBeGreaterThan(pageCount * pageSize)
    }
    if (autoVacuum === 'none') expect(app.pragma('freelist_count', { simple: true })).toBeGreaterThan(0)

    if (journalMode === 'wal') {
      const committed = walSize(repo.db)
      expect(committed, 'phase two is in the WAL, not in the main file').toBeGreaterThan(0)
      // The main file alone still holds phase one only: the image needs the WAL overlay.
      const mainOnly = join(dir, 'main-only.db')
      copyFileSync(repo.db, mainOnly)
      expect(readKinds(mainOnly)).toHaveLength(4)
      // A transaction larger than the page cache spills frames into the WAL, then rolls back:
      // valid frames after the last commit frame that must not be part of the image.
      app.pragma('cache_size = 10')
      app.exec('BEGIN')
      const person = app.prepare('INSERT INTO people (name, email, score) VALUES (?, ?, ?)')
      for (let i = 0; i < 3000; i++) person.run(`rolled back ${seededText(random, 600)}`, null, -1)
      app.exec('UPDATE kinds SET t = NULL, b = NULL')
      app.exec('ROLLBACK')
      expect(walSize(repo.db), 'the rolled-back transaction spilled frames into the WAL').toBeGreaterThan(committed)
    } else {
      // An open write transaction (RESERVED lock, no spill) while the snapshot is taken.
      app.exec('BEGIN IMMEDIATE')
      app.exec("UPDATE people SET name = 'uncommitted' WHERE id < 100")
      app.exec('DELETE FROM kinds')
    }

    const { snapshot } = await backup(repo.ctx, 'app-db')
    if (journalMode === 'delete') app.exec('ROLLBACK')

    expect(snapshot.details.journalMode).toBe(journalMode)
    expect(snapshot.details.pageSize).toBe(pageSize)
    const source = await repo.ctx.openSource('app-db')
    const expectedFingerprint = await source.fingerprint('source')
    const expectedDump = sqliteDump(repo.db)
    const expectedKinds = readKinds(repo.db)
    const expectedCounts = Object.fromEntries(
      snapshot.tables.map((t) => [
        t.name,
        Number(queryAll(repo.db, `SELECT count(*) FROM "${t.name.replaceAll('"', '""')}"`)[0]),
      ]),
    )

    const target = join(dir, 'restored.db')
    const restored = await restore(repo.ctx, { resource: 'app-db', target, snapshot: snapshot.id })
    expect(restored.bytes).toBe(Number(snapshot.details.pageCount) * pageSize)

    expect(integrityCheck(target)).toEqual(['ok'])
    expect(await source.fingerprint({ target })).toEqual(expectedFingerprint)
    expect(sqliteDump(target) === expectedDump, 'sqlite3 .dump of the restored file differs from the source').toBe(true)
    expect(Object.fromEntries(snapshot.tables.map((t) => [t.name, t.rows]))).toEqual(expectedCounts)
    expect(snapshot.tables.map((t) => t.name)).toContain(oddTable)

    // Value by value: the restored file holds exactly what was inserted.
    const kinds = readKinds(target)
    expect(kinds).toEqual(expectedKinds)
    expect(kinds).toEqual(trickyRows().map((row) => row.map(describeValue)))

    const check = new Database(target, { fileMustExist: true })
    try {
      expect(check.pragma('journal_mode', { simple: true })).toBe(journalMode)
      expect(check.pragma('page_size', { simple: true })).toBe(pageSize)
      expect(check.pragma('page_count', { simple: true })).toBe(pageCount)
      expect(check.pragma('auto_vacuum', { simple: true })).toBe(autoVacuum === 'none' ? 0 : 2)
      expect(check.pragma('foreign_key_check')).toEqual([])
      // FTS5's own consistency check, and a query through its index.
      check.exec("INSERT INTO docs (docs) VALUES ('integrity-check')")
      const hits = check.prepare("SELECT count(*) FROM docs WHERE docs MATCH 'straße OR 東京'").pluck().get()
      expect(hits).toBe(app.prepare("SELECT count(*) FROM docs WHERE docs MATCH 'straße OR 東京'").pluck().get())
      // Indexes (expression, partial) answer the same as the source.
      const byExpression =
        "SELECT id FROM people INDEXED BY people_lower_name WHERE lower(name) >= 'charlie' AND lower(name) < 'delta'"
      expect(check.prepare(byExpression).pluck().all()).toEqual(app.prepare(byExpression).pluck().all())
      const byPartial = "SELECT id FROM people WHERE active = 1 AND email > 'user2' ORDER BY email LIMIT 50"
      expect(check.prepare(byPartial).pluck().all()).toEqual(app.prepare(byPartial).pluck().all())
      expect(check.prepare('SELECT count(*) FROM empty_table').pluck().get()).toBe(0)
      // Triggers still fire on the restored file.
      const before = Number(check.prepare('SELECT count(*) FROM audit').pluck().get())
      check.prepare('UPDATE people SET score = score + 1 WHERE id IN (SELECT id FROM people LIMIT 3)').run()
      expect(check.prepare('SELECT count(*) FROM audit').pluck().get()).toBe(before + 3)
    } finally {
      check.close()
    }
    await source.close()
  } finally {
    if (app.inTransaction) app.exec('ROLLBACK')
    app.close()
    await repo.close()
  }
}

describe('sqlite round trip through backup and restore', () => {
  // SQLite treats a zero-length file as an empty database: an application that opened its
  // database but has not written yet has one.
  test('an empty (0-byte) database file', async () => {
    const dir = await tempDir('drkit-sqlite-roundtrip-')
    const repo = await openSqliteRepo(dir)
    try {
      new Database(repo.db).close()
      expect(statSync(repo.db).size).toBe(0)
      const { snapshot } = await backup(repo.ctx, 'app-db')
      expect(snapshot.tables).toEqual([])
      const target = join(dir, 'restored.db')
      await restore(repo.ctx, { resource: 'app-db', target, snapshot: snapshot.id })
      expect(integrityCheck(target)).toEqual(['ok'])
      const source = await repo.ctx.openSource('app-db')
      expect(await source.fingerprint({ target })).toEqual(await source.fingerprint('source'))
      await source.close()
    } finally {
      await repo.close()
    }
  })

  for (const journalMode of ['wal', 'delete'] as const) {
    for (const pageSize of [4096, 65536, 512]) {
      const autoVacuum = pageSize === 4096 ? 'none' : 'incremental'
      test(`${journalMode} mode, page size ${pageSize}, auto_vacuum ${autoVacuum} (seed ${seed})`, () =>
        roundTrip(journalMode, pageSize))
    }
  }
})
