/**
 * Seeded SQLite databases for the failure tests (crash, damage, locks, disk-full): varied
 * content (compressible text, incompressible blobs, an index, overflow pages), mutations
 * that change a chosen share of the pages, and a `generation` table whose row count names
 * each state, so a snapshot can be matched to the state it was taken from.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Fingerprint } from '../../src/sources/source.js'
import { fingerprintSqlite } from '../../src/sources/sqlite/fingerprint.js'

export type { Fingerprint }

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
  bytes(n: number): Buffer
}

/** mulberry32: small, fast and good enough for test data; the same seed gives the same data. */
export function seededRandom(seed: number): Rng {
  let a = seed >>> 0
  const u32 = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  return {
    next: () => u32() / 2 ** 32,
    int: (n) => Math.floor((u32() / 2 ** 32) * n),
    bytes(n) {
      const out = Buffer.allocUnsafe(n)
      let at = 0
      for (; at + 4 <= n; at += 4) out.writeUInt32LE(u32(), at)
      for (; at < n; at++) out[at] = u32() & 0xff
      return out
    },
  }
}

const words = (
  'backup restore snapshot pack index manifest lock stale heartbeat chunk page journal wal ' +
  'customer invoice order shipment refund ledger balance tenant region replica quorum drill ' +
  'objective recovery point time window bookmark generation segment capture verify prune'
).split(' ')

function sentence(rng: Rng, count: number): string {
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(words[rng.int(words.length)]!)
  return out.join(' ')
}

export interface DbOptions {
  seed: number
  /** Rough size of the database file. */
  sizeMiB: number
  pageSize?: number
  wal?: boolean
}

/** Creates a database of about sizeMiB with varied content; its `generation` table has one row. */
export function createDb(path: string, opts: DbOptions): void {
  const rng = seededRandom(opts.seed)
  const db = new Database(path)
  try {
    db.pragma(`page_size = ${opts.pageSize ?? 4096}`)
    if (opts.wal) db.pragma('journal_mode = WAL')
    db.exec(`
      CREATE TABLE customers (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, tier TEXT, balance REAL, notes TEXT
      );
      CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, kind TEXT, at INTEGER, payload BLOB);
      CREATE INDEX events_by_customer ON events (customer_id, at);
      CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
      CREATE TABLE generation (n INTEGER PRIMARY KEY, note TEXT);
    `)
    const bytes = opts.sizeMiB * 1024 * 1024
    const customers = Math.max(50, Math.round(opts.sizeMiB * 40))
    const insertCustomer = db.prepare('INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)')
    const insertEvent = db.prepare('INSERT INTO events (customer_id, kind, at, payload) VALUES (?, ?, ?, ?)')
    const insertDoc = db.prepare('INSERT INTO docs (title, body) VALUES (?, ?)')
    db.transaction(() => {
      for (let id = 1; id <= customers; id++) {
        const tier = ['free', 'team', 'business', null][rng.int(4)]
        insertCustomer.run(id, sentence(rng, 2), `c${id}@example.test`, tier, rng.int(1e7) / 100, sentence(rng, 12))
      }
      // ~70% incompressible blobs, ~25% compressible text with overflow pages.
      for (let stored = 0; stored < bytes * 0.7; ) {
        const payload = rng.bytes(200 + rng.int(2800))
        insertEvent.run(1 + rng.int(customers), words[rng.int(8)], 1_700_000_000 + stored, payload)
        stored += payload.length + 40
      }
      for (let stored = 0; stored < bytes * 0.25; ) {
        const body = sentence(rng, 300 + rng.int(1500))
        insertDoc.run(sentence(rng, 4), body)
        stored += body.length
      }
      db.prepare('INSERT INTO generation VALUES (0, ?)').run('created')
    })()
  } finally {
    db.close()
  }
}

export interface MutateOptions {
  /** Share of event rows whose payload is rewritten (0 to 1). */
  share?: number
}

/**
 * Changes the database: rewrites a share of the event payloads, updates balances and docs,
 * deletes and inserts events, and adds one `generation` row (so its row count grows by one).
 */
export function mutateDb(path: string, rng: Rng, note: string, opts: MutateOptions = {}): void {
  const db = new Database(path, { fileMustExist: true })
  try {
    const maxEvent = Number(db.prepare('SELECT max(id) FROM events').pluck().get())
    const customers = Number(db.prepare('SELECT count(*) FROM customers').pluck().get())
    const rewrite = Math.round(maxEvent * (opts.share ?? 0.05))
    const setPayload = db.prepare('UPDATE events SET payload = ? WHERE id = ?')
    db.transaction(() => {
      for (let i = 0; i < rewrite; i++) setPayload.run(rng.bytes(200 + rng.int(2800)), 1 + rng.int(maxEvent))
      const setBalance = db.prepare('UPDATE customers SET balance = ?, notes = ? WHERE id = ?')
      for (let i = 0; i < 40; i++) setBalance.run(rng.int(1e7) / 100, sentence(rng, 8), 1 + rng.int(customers))
      const del = db.prepare('DELETE FROM events WHERE id = ?')
      for (let i = 0; i < Math.ceil(maxEvent / 200); i++) del.run(1 + rng.int(maxEvent))
      const insert = db.prepare('INSERT INTO events (customer_id, kind, at, payload) VALUES (?, ?, ?, ?)')
      for (let i = 0; i < Math.ceil(maxEvent / 100); i++) {
        insert.run(1 + rng.int(customers), 'late', 1_800_000_000 + i, rng.bytes(100 + rng.int(1000)))
      }
      db.prepare('UPDATE docs SET body = ? WHERE id = ?').run(sentence(rng, 500), 1 + rng.int(3))
      db.prepare('INSERT INTO generation (note) VALUES (?)').run(note)
    })()
  } finally {
    db.close()
  }
}

/** Row count per user table (as a snapshot's `tables` lists them) from a fingerprint. */
export function rowCounts(print: Fingerprint): Record<string, number> {
  return Object.fromEntries(
    Object.entries(print.tables)
      .filter(([name]) => name !== 'sqlite_schema')
      .map(([name, t]) => [name, t.rows]),
  )
}

export function fingerprint(path: string): Fingerprint {
  return fingerprintSqlite(path)
}

/** A `tables` list (from a snapshot) as a name → rows record. */
export function rowsOf(tables: { name: string; rows: number }[]): Record<string, number> {
  return Object.fromEntries(tables.map((t) => [t.name, t.rows]))
}

/**
 * Writes `dir/drkit.yaml` with the repository at `repo` (relative to dir) and one sqlite
 * resource per entry (name → database path, absolute or relative to dir).
 */
export async function writePlan(dir: string, resources: Record<string, string>, repo = './repo'): Promise<string> {
  const lines = [`repository: ${JSON.stringify(repo)}`, 'resources:']
  for (const [name, path] of Object.entries(resources)) {
    lines.push(`  ${name}:`, '    type: sqlite', `    path: ${JSON.stringify(path)}`)
  }
  const file = join(dir, 'drkit.yaml')
  await writeFile(file, `${lines.join('\n')}\n`)
  return file
}
