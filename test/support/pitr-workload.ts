/**
 * Point-in-time recovery tests: a seeded workload of SQLite transactions that can be played
 * again, so that the state after any transaction can be rebuilt (the oracle), a child process
 * that commits it to the live database while drkit captures, and small helpers around plans,
 * restores and fingerprints.
 *
 * The workload is a list of transactions, each a list of SQL statements with bound values.
 * The statements pick the rows they touch by position (`ORDER BY key LIMIT 1 OFFSET ?`), so
 * the same list gives the same states whatever the rowids are. Every transaction also sets
 * `meta.txn` to its own number, so a restored database says which state it claims to be.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { OpsContext } from '../../src/ops/context.js'
import { readTimeline } from '../../src/ops/timeline.js'
import type { Fingerprint } from '../../src/sources/source.js'
import { fingerprintSqlite } from '../../src/sources/sqlite/fingerprint.js'
import { sqlitePlan } from './cli.js'
import { type Rng, seededRandom } from './fault-db.js'
import { betterSqlite3Path } from './sqlite-correctness.js'

export type { Fingerprint }

export type Param = null | bigint | number | string | Uint8Array

export interface Stmt {
  sql: string
  params: Param[]
}

export interface Txn {
  /** 1, 2, …: the value `meta.txn` holds once the transaction is committed. */
  n: number
  stmts: Stmt[]
  /** Milliseconds the executor waits between statements, with the transaction open. */
  holdMs: number
}

export const pitrSchema = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, big INTEGER, data BLOB, misc)',
  'CREATE TABLE notes (tenant TEXT, body TEXT, score REAL, data BLOB, misc)',
  'CREATE INDEX notes_by_tenant ON notes (tenant)',
  'CREATE TABLE kv (a TEXT NOT NULL, b TEXT NOT NULL, v, w REAL, PRIMARY KEY (a, b)) WITHOUT ROWID',
  'CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)',
  // The application's own trigger (replay must not run it again) and a foreign key with cascades.
  'CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, item INTEGER, old_qty, new_qty)',
  'CREATE TRIGGER items_audit AFTER UPDATE OF qty ON items WHEN OLD.qty IS NOT NEW.qty BEGIN ' +
    'INSERT INTO audit (item, old_qty, new_qty) VALUES (NEW.id, OLD.qty, NEW.qty); END',
  'CREATE TABLE tags (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id) ON DELETE CASCADE ' +
    'ON UPDATE CASCADE, tag TEXT)',
]

const texts = [
  '',
  'plain ascii',
  'héllo wörld',
  '日本語のテキスト',
  'emoji 🙂👍🏽🇫🇷',
  'nul\u0000inside',
  'e\u0301 combining',
  'مرحبا بالعالم',
  'quote \' and " and \\',
  'line\nbreak\ttab',
]
const reals = [
  0.1 + 0.2,
  1 / 3,
  -2 / 7,
  Math.PI * 1e300,
  5e-324,
  2.2250738585072014e-308,
  -0,
  1e21,
  123456789.12345678,
  Infinity,
  -Infinity,
]
const bigs = [
  2n ** 53n + 1n,
  -(2n ** 53n) - 3n,
  9223372036854775807n,
  -9223372036854775808n,
  1234567890123456789n,
  0n,
  -1n,
]
const tenants: (string | null)[] = ['acme', 'globex', 'ünïcode', '日本', null]
const keysA = ['α', 'b', 'ç', 'd\u0000x', '🙂']

/** A seeded generator of transactions over `pitrSchema`; `txns[n - 1]` is transaction n. */
export class Workload {
  readonly txns: Txn[] = []
  private readonly rng: Rng
  private readonly approx = { items: 0, notes: 0, kv: 0, tags: 0 }
  /** Ids handed out for moved and explicit rows: negative, so they never meet SQLite's own (max + 1). */
  private fresh = 0

  constructor(readonly seed: number) {
    this.rng = seededRandom(seed)
  }

  /** The schema and the first rows, with `meta.txn` = 0: run once on an empty database. */
  initial(): Stmt[] {
    const stmts: Stmt[] = pitrSchema.map((sql) => ({ sql, params: [] }))
    stmts.push({ sql: "INSERT INTO meta (k, v) VALUES ('txn', 0)", params: [] })
    for (let i = 0; i < 40; i++) stmts.push(this.insertItem(), this.insertNote(), this.upsertKv(), this.tag())
    return stmts
  }

  /** The next transaction: `large` makes it tens of statements, several of them multi-row. */
  next(opts: { large?: boolean } = {}): Txn {
    const n = this.txns.length + 1
    const count = opts.large ? 20 + this.rng.int(40) : 1 + this.rng.int(6)
    const stmts: Stmt[] = []
    for (let i = 0; i < count; i++) stmts.push(this.statement())
    stmts.splice(this.rng.int(stmts.length + 1), 0, {
      sql: "UPDATE meta SET v = ? WHERE k = 'txn'",
      params: [BigInt(n)],
    })
    const txn: Txn = { n, stmts, holdMs: this.rng.next() < 0.1 ? 1 + this.rng.int(4) : 0 }
    this.txns.push(txn)
    return txn
  }

  /** A transaction of the given statements (and the `meta.txn` update). */
  custom(stmts: Stmt[]): Txn {
    const n = this.txns.length + 1
    const txn: Txn = {
      n,
      stmts: [...stmts, { sql: "UPDATE meta SET v = ? WHERE k = 'txn'", params: [BigInt(n)] }],
      holdMs: 0,
    }
    this.txns.push(txn)
    return txn
  }

  private pick<T>(list: readonly T[]): T {
    return list[this.rng.int(list.length)]!
  }

  private chance(p: number): boolean {
    return this.rng.next() < p
  }

  /** A value of any type SQLite stores, the hard cases often. */
  value(): Param {
    switch (this.rng.int(6)) {
      case 0:
        return null
      case 1:
        return this.big()
      case 2:
        return this.real()
      case 3:
        return this.text()
      case 4:
        return this.blob()
      default:
        return this.rng.int(1000) - 500
    }
  }

  private big(): bigint {
    if (this.chance(0.5)) return this.pick(bigs)
    const magnitude = 2n ** 53n + BigInt(this.rng.int(2 ** 30)) * 2n ** BigInt(this.rng.int(9))
    return this.chance(0.5) ? magnitude : -magnitude
  }

  private real(): number {
    if (this.chance(0.4)) return this.pick(reals)
    // Random doubles need all 17 significant digits.
    return (this.rng.next() - 0.5) * 2 ** (this.rng.int(120) - 60)
  }

  private text(): string {
    const base = this.pick(texts)
    return this.chance(0.5) ? `${base} #${this.rng.int(1_000_000)}` : base
  }

  private blob(): Buffer {
    const r = this.rng.int(10)
    if (r === 0) return Buffer.alloc(0)
    // Now and then one larger than a page, so it spills to overflow pages.
    return this.rng.bytes(r === 1 ? 5000 + this.rng.int(3000) : 1 + this.rng.int(300))
  }

  private offset(table: keyof Workload['approx']): number {
    return this.rng.int(this.approx[table] + 1)
  }

  private statement(): Stmt {
    const table = this.pick(['items', 'items', 'notes', 'kv', 'tags'] as const)
    if (table === 'tags') return this.tag()
    const full = this.approx[table] > 250
    // Tables that ran low are refilled: inserts first.
    const r = this.approx[table] < 40 ? this.rng.int(16) - 6 : this.rng.int(10)
    if (table === 'items') {
      if (r < (full ? 1 : 3)) return this.insertItem()
      if (r < 6) return this.updateItem()
      if (r < 8) return this.deleteItems()
      return this.multiItems()
    }
    if (table === 'notes') {
      if (r < (full ? 1 : 3)) return this.insertNote()
      if (r < 6) return this.updateNote()
      return this.deleteNotes()
    }
    if (r < (full ? 1 : 4)) return this.upsertKv()
    if (r < 7) return this.updateKv()
    return this.deleteKv()
  }

  private tag(): Stmt {
    const r = this.approx.tags < 40 ? 0 : this.rng.int(5)
    if (r <= 1) {
      this.approx.tags++
      // The item by position; NULL (no item) when the offset is past the end.
      return {
        sql: 'INSERT INTO tags (item_id, tag) VALUES ((SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?), ?)',
        params: [this.offset('items'), this.text()],
      }
    }
    const where = 'WHERE id = (SELECT id FROM tags ORDER BY id LIMIT 1 OFFSET ?)'
    if (r === 2) return { sql: `UPDATE tags SET tag = ? ${where}`, params: [this.value(), this.offset('tags')] }
    if (r === 3) return { sql: 'DELETE FROM audit WHERE id <= (SELECT max(id) - 40 FROM audit)', params: [] }
    this.approx.tags = Math.max(0, this.approx.tags - 1)
    return { sql: `DELETE FROM tags ${where}`, params: [this.offset('tags')] }
  }

  private insertItem(): Stmt {
    this.approx.items++
    const values = [this.text(), this.value(), this.real(), this.big(), this.blob(), this.value()]
    if (this.chance(0.15) && this.approx.items > 1) {
      // Replaces an existing row (its id), or inserts with a new id when the offset is past the end.
      return {
        sql:
          'INSERT OR REPLACE INTO items (id, name, qty, price, big, data, misc) VALUES ' +
          '((SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?), ?, ?, ?, ?, ?, ?)',
        params: [this.offset('items'), ...values],
      }
    }
    const id = this.chance(0.5) ? null : --this.fresh
    return {
      sql: 'INSERT INTO items (id, name, qty, price, big, data, misc) VALUES (?, ?, ?, ?, ?, ?, ?)',
      params: [id, ...values],
    }
  }

  private updateItem(): Stmt {
    const where = 'WHERE id = (SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?)'
    const r = this.rng.int(4)
    if (r === 0) return { sql: `UPDATE items SET id = ? ${where}`, params: [--this.fresh, this.offset('items')] }
    if (r === 1)
      return {
        sql: `UPDATE items SET data = ?, misc = ? ${where}`,
        params: [this.blob(), this.value(), this.offset('items')],
      }
    return {
      sql: `UPDATE items SET name = ?, qty = ?, price = ?, big = ?, misc = ? ${where}`,
      params: [this.text(), this.value(), this.real(), this.big(), this.value(), this.offset('items')],
    }
  }

  private deleteItems(): Stmt {
    if (this.chance(0.2)) {
      const mod = 17 + this.rng.int(20)
      this.approx.items = Math.round((this.approx.items * (mod - 1)) / mod)
      return { sql: 'DELETE FROM items WHERE id % ? = ?', params: [mod, this.rng.int(mod)] }
    }
    this.approx.items = Math.max(0, this.approx.items - 1)
    return {
      sql: 'DELETE FROM items WHERE id = (SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?)',
      params: [this.offset('items')],
    }
  }

  private multiItems(): Stmt {
    const mod = 3 + this.rng.int(8)
    if (this.chance(0.3) && this.approx.items < 250) {
      this.approx.items += Math.round(this.approx.items / mod)
      return {
        sql:
          'INSERT INTO items (name, qty, price, big, data, misc) ' +
          'SELECT name, qty, price, big, data, ? FROM items WHERE id % ? = ?',
        params: [this.value(), mod, this.rng.int(mod)],
      }
    }
    return {
      sql: 'UPDATE items SET qty = ?, price = ? WHERE id % ? = ?',
      params: [this.value(), this.real(), mod, this.rng.int(mod)],
    }
  }

  private insertNote(): Stmt {
    this.approx.notes++
    return {
      sql: 'INSERT INTO notes (tenant, body, score, data, misc) VALUES (?, ?, ?, ?, ?)',
      params: [this.pick(tenants), this.text(), this.real(), this.blob(), this.value()],
    }
  }

  private updateNote(): Stmt {
    const where = 'WHERE rowid = (SELECT rowid FROM notes ORDER BY rowid LIMIT 1 OFFSET ?)'
    const r = this.rng.int(5)
    // Moves the row to another rowid: rowid tables without a declared key are identified by rowid.
    if (r === 0) return { sql: `UPDATE notes SET rowid = ? ${where}`, params: [--this.fresh, this.offset('notes')] }
    if (r === 1) {
      return {
        sql: 'UPDATE notes SET score = ?, misc = ? WHERE tenant IS ?',
        params: [this.real(), this.value(), this.pick(tenants)],
      }
    }
    return {
      sql: `UPDATE notes SET tenant = ?, body = ?, data = ?, misc = ? ${where}`,
      params: [this.pick(tenants), this.text(), this.blob(), this.value(), this.offset('notes')],
    }
  }

  private deleteNotes(): Stmt {
    if (this.chance(0.2)) {
      const limit = 1 + this.rng.int(8)
      this.approx.notes = Math.max(0, this.approx.notes - limit)
      return {
        sql: 'DELETE FROM notes WHERE rowid IN (SELECT rowid FROM notes WHERE tenant IS ? ORDER BY rowid LIMIT ?)',
        params: [this.pick(tenants), limit],
      }
    }
    this.approx.notes = Math.max(0, this.approx.notes - 1)
    return {
      sql: 'DELETE FROM notes WHERE rowid = (SELECT rowid FROM notes ORDER BY rowid LIMIT 1 OFFSET ?)',
      params: [this.offset('notes')],
    }
  }

  private kvKey(): [string, string] {
    return [this.pick(keysA), `k${this.rng.int(80)}${this.chance(0.2) ? ' ñ' : ''}`]
  }

  private upsertKv(): Stmt {
    this.approx.kv++
    return {
      sql: 'INSERT OR REPLACE INTO kv (a, b, v, w) VALUES (?, ?, ?, ?)',
      params: [...this.kvKey(), this.value(), this.real()],
    }
  }

  private updateKv(): Stmt {
    const where = 'WHERE (a, b) = (SELECT a, b FROM kv ORDER BY a, b LIMIT 1 OFFSET ?)'
    const r = this.rng.int(4)
    // Changes the primary key, replacing a row that already has the new one.
    if (r === 0) return { sql: `UPDATE OR REPLACE kv SET b = ? ${where}`, params: [this.kvKey()[1], this.offset('kv')] }
    if (r === 1)
      return { sql: 'UPDATE kv SET w = ?, v = ? WHERE a = ?', params: [this.real(), this.value(), this.pick(keysA)] }
    return { sql: `UPDATE kv SET v = ?, w = ? ${where}`, params: [this.value(), this.real(), this.offset('kv')] }
  }

  private deleteKv(): Stmt {
    if (this.chance(0.2)) {
      this.approx.kv = Math.round(this.approx.kv * 0.9)
      return { sql: 'DELETE FROM kv WHERE a = ? AND b > ?', params: [this.pick(keysA), this.kvKey()[1]] }
    }
    this.approx.kv = Math.max(0, this.approx.kv - 1)
    return {
      sql: 'DELETE FROM kv WHERE (a, b) = (SELECT a, b FROM kv ORDER BY a, b LIMIT 1 OFFSET ?)',
      params: [this.offset('kv')],
    }
  }
}

/** Runs statements in one BEGIN IMMEDIATE transaction on an open connection. */
export function applyStatements(db: Database.Database, stmts: Stmt[]): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    for (const s of stmts) db.prepare(s.sql).run(...s.params)
    db.exec('COMMIT')
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw err
  }
}

/** Creates the live database (WAL mode) with the workload's schema and first rows. */
export function createWorkloadDb(path: string, workload: Workload, stmts = workload.initial()): void {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    applyStatements(db, stmts)
  } finally {
    db.close()
  }
}

/**
 * The oracle: plays the initial statements and transactions 1..max into a scratch database
 * and fingerprints the state after each transaction number asked for (0: before any).
 */
export function oracleFingerprints(path: string, initial: Stmt[], txns: Txn[], wanted: number[]) {
  const want = new Set(wanted)
  const max = Math.max(0, ...wanted)
  const out = new Map<number, Fingerprint>()
  const db = new Database(path)
  try {
    db.pragma('foreign_keys = ON')
    applyStatements(db, initial)
    if (want.has(0)) out.set(0, fingerprintSqlite(path))
    for (let n = 1; n <= max; n++) {
      const txn = txns[n - 1]
      if (!txn || txn.n !== n) throw new Error(`the workload has no transaction ${n}`)
      applyStatements(db, txn.stmts)
      if (want.has(n)) out.set(n, fingerprintSqlite(path))
    }
  } finally {
    db.close()
  }
  return out
}

/** The transaction number a database is at (`meta.txn`). */
export function txnOf(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return Number(db.prepare("SELECT v FROM meta WHERE k = 'txn'").pluck().get())
  } finally {
    db.close()
  }
}

/**
 * The executor, run by `node -e`: commits each transaction it is sent (BEGIN IMMEDIATE,
 * the statements, waiting holdMs between them with the transaction open, COMMIT) and
 * answers when it is committed. Values come over IPC with the advanced serialization.
 */
const executorScript = `
const Database = require(process.env.PITR_BETTER_SQLITE3)
const db = new Database(process.env.PITR_DB, { fileMustExist: true, timeout: 120000 })
db.pragma('foreign_keys = ON')
const cache = new Map()
const prepare = (sql) => {
  let s = cache.get(sql)
  if (!s) cache.set(sql, (s = db.prepare(sql)))
  return s
}
const bind = (p) =>
  p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
let queue = Promise.resolve()
process.on('message', (msg) => {
  queue = queue.then(async () => {
    if (msg.type === 'close') {
      db.close()
      process.disconnect()
      return
    }
    try {
      db.exec('BEGIN IMMEDIATE')
      for (let i = 0; i < msg.stmts.length; i++) {
        prepare(msg.stmts[i].sql).run(...msg.stmts[i].params.map(bind))
        if (msg.holdMs > 0 && i < msg.stmts.length - 1) await sleep(msg.holdMs)
      }
      db.exec('COMMIT')
      process.send({ id: msg.id, ok: true })
    } catch (err) {
      try { if (db.inTransaction) db.exec('ROLLBACK') } catch {}
      process.send({ id: msg.id, ok: false, error: String((err && err.stack) || err) })
    }
  })
})
`

export interface Executor {
  /** Commits the transaction in the child; resolves once it is committed. */
  run(txn: Txn): Promise<void>
  /** Closes the child's connection and waits for it to exit. */
  close(): Promise<void>
}

/** A child process that commits transactions to the database at path, one at a time. */
export function startExecutor(path: string): Executor {
  const child: ChildProcess = spawn(process.execPath, ['-e', executorScript], {
    env: { ...process.env, PITR_BETTER_SQLITE3: betterSqlite3Path, PITR_DB: path },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  })
  let stderr = ''
  child.stderr!.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>()
  let nextId = 1
  child.on('message', (m: { id: number; ok: boolean; error?: string }) => {
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (m.ok) w?.resolve()
    else w?.reject(new Error(`the workload's transaction failed: ${m.error}`))
  })
  void exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(`the workload executor exited: ${stderr}`))
    waiting.clear()
  })
  return {
    run(txn) {
      const id = nextId++
      return new Promise<void>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        child.send({ id, stmts: txn.stmts, holdMs: txn.holdMs })
      })
    },
    async close() {
      if (child.connected) child.send({ type: 'close' })
      await exited
    },
  }
}

/** `drkit.yaml` in dir: resource `app-db` at ./app.db with capture, repository ./repo; `extra` is appended. */
export async function writePitrPlan(dir: string, interval = '200ms', extra = ''): Promise<string> {
  const file = join(dir, 'drkit.yaml')
  await writeFile(file, sqlitePlan(`    capture: { interval: ${interval} }\n${extra}`))
  return file
}

/** The live database's fingerprint through the source, as the brief of these tests asks. */
export async function liveFingerprint(ctx: OpsContext, resource = 'app-db'): Promise<Fingerprint> {
  const source = await ctx.openSource(resource)
  try {
    return await source.fingerprint('source')
  } finally {
    await source.close()
  }
}

/** A restored target's fingerprint through the source. */
export async function targetFingerprint(ctx: OpsContext, target: string, resource = 'app-db'): Promise<Fingerprint> {
  const source = await ctx.openSource(resource)
  try {
    return await source.fingerprint({ target })
  } finally {
    await source.close()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls probe until it returns something other than undefined. The guard only turns a hang
 * into a message naming what was awaited; nothing here measures how long it took.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const guard = Date.now() + 45_000
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > guard) throw new Error(`gave up waiting for ${what}`)
    await sleep(25)
  }
}

/** Waits until the repository can restore moment `at` of the resource (the agent has shipped past it). */
export async function waitRestorable(ctx: OpsContext, at: number, resource = 'app-db'): Promise<void> {
  await waitFor(`${new Date(at).toISOString()} to be in the recoverable window`, async () => {
    const { timeline } = await readTimeline(ctx, resource)
    return timeline.window.some((r) => r.from <= at && at <= r.to) ? true : undefined
  })
}

/** Changes waiting in `_drkit_changes` of a live database (0 when capture is not installed). */
export function changelogRows(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const installed = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_drkit_changes'").get()
    // The anchor row (the newest stored change, kept as a marker) is not a waiting change.
    const waiting = 'SELECT count(*) FROM _drkit_changes WHERE seq > (SELECT min(seq) FROM _drkit_changes)'
    return installed ? Number(db.prepare(waiting).pluck().get()) : 0
  } finally {
    db.close()
  }
}

export const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Date.now(), returned once the clock has moved past it. drkit stamps proven boundaries with
 * Date.now(), truncated to the millisecond, so a commit in the same millisecond as a recorded
 * moment compares equal to it; a test that records a moment and then commits waits for the
 * next millisecond first, so that "committed after the moment" stays unambiguous.
 */
export function momentBeforeNextCommit(): number {
  const at = Date.now()
  let now = at
  while (now <= at) now = Date.now()
  return at
}
