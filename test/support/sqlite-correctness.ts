/**
 * Helpers for the SQLite snapshot correctness tests (round trip, consistency under load,
 * dedup): a plan with one `app-db` resource in a temp dir opened through ops/, the
 * sqlite3 CLI's dump, integrity checks, a seeded PRNG and a transfer workload that runs
 * in a second process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createRepository, type OpsContext, openContext } from '../../src/ops/context.js'
import { sqlitePlan } from './cli.js'

export const sqlite3Cli = '/usr/bin/sqlite3'

/** Absolute path of the project's better-sqlite3, for child processes. */
export const betterSqlite3Path = createRequire(import.meta.url).resolve('better-sqlite3')

export interface SqliteRepo {
  ctx: OpsContext
  /** The live database of resource `app-db`. */
  db: string
  dir: string
  close(): Promise<void>
}

/** Writes drkit.yaml (resource `app-db` at ./app.db, repository ./repo) into dir, creates the repository, opens it. */
export async function openSqliteRepo(dir: string): Promise<SqliteRepo> {
  const config = join(dir, 'drkit.yaml')
  await writeFile(config, sqlitePlan())
  const ctx = await openContext({ config })
  const created = await createRepository(ctx.plan)
  await created.close()
  return { ctx, db: join(dir, 'app.db'), dir, close: () => ctx.close() }
}

/** `sqlite3 <db> .dump`. */
export function sqliteDump(path: string): string {
  return execFileSync(sqlite3Cli, [path, '.dump'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
}

/** `PRAGMA integrity_check` rows ('ok' alone when the database is sound). */
export function integrityCheck(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const rows = db.pragma('integrity_check') as Record<string, unknown>[]
    return rows.map((row) => String(Object.values(row)[0]))
  } finally {
    db.close()
  }
}

/** A small seeded PRNG (mulberry32): floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** n bytes from a seeded PRNG. */
export function seededBytes(random: () => number, n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256)
  return out
}

/** Printable filler text of n characters from a seeded PRNG. */
export function seededText(random: () => number, n: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '
  let out = ''
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(random() * alphabet.length)]
  return out
}

export interface TransferWorkloadOptions {
  path: string
  accounts: number
  seed: number
  /** `PRAGMA wal_autocheckpoint` for the workload's connection; SQLite's default when absent. */
  walAutocheckpoint?: number
  /** Characters of filler text per transfer row. */
  fillerChars: number
}

export interface TransferWorkload {
  child: ChildProcess
  /** Resolves once the workload has committed its first transactions. */
  started: Promise<void>
  /** Kills the workload (SIGKILL, as a crash would) and waits for it to exit. */
  stop(): Promise<void>
  /** What the workload wrote to stderr, for failure messages. */
  stderr(): string
}

/**
 * The workload, run by `node -e`: each transaction moves a random amount between two
 * random accounts (so SUM(balance) never changes) and logs it in `transfers` with
 * filler text, as fast as it can, until killed. It prints `started` after 50 commits.
 */
const workloadScript = `
const Database = require(process.env.DRKIT_BETTER_SQLITE3)
const cfg = JSON.parse(process.env.DRKIT_WORKLOAD)
const db = new Database(cfg.path, { timeout: 120000 })
if (cfg.walAutocheckpoint !== undefined) db.pragma('wal_autocheckpoint = ' + cfg.walAutocheckpoint)
let a = cfg.seed >>> 0
const random = () => {
  a = (a + 0x6d2b79f5) >>> 0
  let t = a
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
const filler = (n) => {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)]
  return s
}
const debit = db.prepare('UPDATE accounts SET balance = balance - ? WHERE id = ?')
const credit = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?')
const log = db.prepare('INSERT INTO transfers (src, dst, amount, note) VALUES (?, ?, ?, ?)')
const transfer = db.transaction((src, dst, amount, note) => {
  debit.run(amount, src)
  credit.run(amount, dst)
  log.run(src, dst, amount, note)
})
let commits = 0
for (;;) {
  const src = 1 + Math.floor(random() * cfg.accounts)
  const dst = 1 + Math.floor(random() * cfg.accounts)
  const amount = 1 + Math.floor(random() * 1000)
  const note = filler(cfg.fillerChars)
  try {
    transfer(src, dst, amount, note)
  } catch (err) {
    if (err && (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_BUSY_SNAPSHOT')) continue
    throw err
  }
  if (++commits === 50) process.stdout.write('started\\n')
}
`

/** Starts the transfer workload in a second process against an existing database (see createTransferDb). */
export function startTransferWorkload(opts: TransferWorkloadOptions): TransferWorkload {
  const child = spawn(process.execPath, ['-e', workloadScript], {
    env: { ...process.env, DRKIT_BETTER_SQLITE3: betterSqlite3Path, DRKIT_WORKLOAD: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const started = new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('started')) resolve()
    })
    child.once('exit', (code, signal) =>
      reject(new Error(`the transfer workload exited early (code ${code}, signal ${signal}): ${stderr}`)),
    )
  })
  started.catch(() => undefined)
  return {
    child,
    started,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/**
 * Creates the transfer database: `accounts` with `initialBalance` each and `transfers`
 * pre-filled with `prefillRows` rows of filler so that the file is a few MiB.
 */
export function createTransferDb(opts: {
  path: string
  journalMode: 'wal' | 'delete'
  accounts: number
  initialBalance: number
  prefillRows: number
  fillerChars: number
  seed: number
}): void {
  const random = seededRandom(opts.seed)
  const db = new Database(opts.path)
  try {
    db.pragma(`journal_mode = ${opts.journalMode}`)
    db.exec(`
      CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL);
      CREATE TABLE transfers (
        id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL, note TEXT
      );
      CREATE INDEX transfers_src ON transfers (src, amount);
    `)
    const account = db.prepare('INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)')
    const log = db.prepare('INSERT INTO transfers (src, dst, amount, note) VALUES (?, ?, ?, ?)')
    db.transaction(() => {
      for (let id = 1; id <= opts.accounts; id++) account.run(id, seededText(random, 24), opts.initialBalance)
      for (let i = 0; i < opts.prefillRows; i++) {
        // Pre-filled rows move nothing: amount 0 keeps the total.
        const src = 1 + Math.floor(random() * opts.accounts)
        log.run(src, src, 0, seededText(random, opts.fillerChars))
      }
    })()
  } finally {
    db.close()
  }
}
