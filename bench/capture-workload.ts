/**
 * The application side of the change-capture benchmark (issue 3): a small application
 * database (accounts and events, in WAL mode with `synchronous=NORMAL`, as applications
 * usually run SQLite) and the writes the application makes to it. The benchmark process
 * runs the throughput workloads; the paced writer (bench/capture-writer.ts) uses the same
 * statements in a child process.
 */
import Database from 'better-sqlite3'
import { Rand } from './generate.js'

/** Rows in `accounts`: single-row updates pick one of them by primary key. */
export const accountRows = 100_000
/** Rows per transaction of the batched-insert workload. */
export const insertBatch = 1000

export const captureSchema = `
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    email TEXT NOT NULL,
    balance INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    note TEXT
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    payload TEXT NOT NULL
  );
  CREATE INDEX events_account_at ON events(account_id, at);
`

const kinds = ['deposit', 'withdrawal', 'transfer', 'fee', 'refund', 'login', 'profile']

/** Precomputed event payloads (about 100 to 200 bytes of JSON), so the workloads spend no time making them. */
function payloads(seed: number, count = 1024): string[] {
  const r = new Rand(seed)
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ v: 1, ref: r.hex(12), amount: r.between(1, 99_999), memo: r.words(r.between(4, 16)), n: i }),
  )
}

/** The pristine application database: 100,000 accounts, no events yet, WAL mode, checkpointed. */
export function createAppDatabase(path: string, seed: number): void {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    db.exec(captureSchema)
    const r = new Rand(seed)
    const add = db.prepare(
      'INSERT INTO accounts (id, owner, email, balance, updated_at, note) VALUES (?, ?, ?, ?, ?, ?)',
    )
    db.transaction(() => {
      for (let id = 1; id <= accountRows; id++) {
        add.run(id, `owner ${id}`, `user${id}@example.com`, r.between(0, 1_000_000), 1_700_000_000 + id, r.words(3))
      }
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/** A connection as an application opens one: WAL, synchronous=NORMAL, a busy timeout. */
export function openApp(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true, timeout: 30_000 })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  return db
}

export type Workload = 'update' | 'insert'

/** The application's statements: an update of one account by primary key, and an event insert. */
export function statements(db: Database.Database, seed: number) {
  const r = new Rand(seed)
  const pool = payloads(seed ^ 0x9e3779b9)
  let clock = 1_800_000_000
  const update = db.prepare('UPDATE accounts SET balance = balance + ?, updated_at = ? WHERE id = ?')
  const insert = db.prepare('INSERT INTO events (account_id, kind, at, payload) VALUES (?, ?, ?, ?)')
  let n = 0
  return {
    /** One single-row UPDATE by primary key (the caller decides the transaction). */
    update(): void {
      update.run(r.between(-500, 500), ++clock, r.between(1, accountRows))
    },
    /** One INSERT of a small event row. */
    insert(): void {
      n++
      insert.run(r.between(1, accountRows), kinds[n % kinds.length]!, ++clock, pool[n % pool.length]!)
    },
  }
}

export interface Throughput {
  /** Rows written (one per UPDATE; 1000 per batch of INSERTs). */
  rows: number
  /** Committed transactions. */
  transactions: number
  ms: number
  rowsPerSecond: number
}

/**
 * Writes as fast as one connection can for `ms` milliseconds (after a short warm-up that
 * is not counted): single-row UPDATEs in autocommit mode (one transaction each), or
 * INSERTs in transactions of `insertBatch` rows.
 */
export function measureThroughput(path: string, workload: Workload, ms: number, seed: number): Throughput {
  const db = openApp(path)
  try {
    const s = statements(db, seed)
    const batch = db.transaction(() => {
      for (let i = 0; i < insertBatch; i++) s.insert()
    })
    const step = workload === 'update' ? () => s.update() : () => batch()
    const perStep = workload === 'update' ? 1 : insertBatch
    // Between two clock reads: enough steps that reading the clock costs nothing.
    const stride = workload === 'update' ? 32 : 1
    const loop = (limitMs: number) => {
      const started = performance.now()
      let steps = 0
      let elapsed = 0
      while (elapsed < limitMs) {
        for (let i = 0; i < stride; i++) step()
        steps += stride
        elapsed = performance.now() - started
      }
      return { steps, elapsed }
    }
    loop(Math.min(250, ms / 4))
    const { steps, elapsed } = loop(ms)
    return {
      rows: steps * perStep,
      transactions: steps,
      ms: elapsed,
      rowsPerSecond: (steps * perStep * 1000) / elapsed,
    }
  } finally {
    db.close()
  }
}

/** How many changes wait in the live database's changelog (undefined: capture is not installed). */
export function changelogBacklog(path: string): number | undefined {
  const db = new Database(path, { fileMustExist: true, readonly: true, timeout: 30_000 })
  try {
    const installed = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_drkit_changes'").get()
    if (!installed) return undefined
    // Changes after the anchor row (the newest stored change, which stays as a marker).
    const waiting = 'SELECT count(*) FROM _drkit_changes WHERE seq > (SELECT min(seq) FROM _drkit_changes)'
    return Number(db.prepare(waiting).pluck().get())
  } finally {
    db.close()
  }
}

/**
 * The replay benchmark's changes: `count` single-row UPDATEs by primary key (balance,
 * updated_at and a short note), visiting the accounts in a fixed scrambled order, in one
 * transaction. `offset` continues the sequence of an earlier call.
 */
export function updateAccounts(db: Database.Database, count: number, offset: number): void {
  const update = db.prepare('UPDATE accounts SET balance = balance + ?, updated_at = ?, note = ? WHERE id = ?')
  const notes = ['checked', 'audited by ops', 'limit raised', 'card replaced', 'address changed', 'vip']
  db.transaction(() => {
    for (let i = offset; i < offset + count; i++) {
      update.run((i % 13) - 6, 1_800_000_000 + i, notes[i % notes.length]!, ((i * 7919) % accountRows) + 1)
    }
  })()
}
