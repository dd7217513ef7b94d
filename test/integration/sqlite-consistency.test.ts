/**
 * SQLite snapshots stay consistent while another process writes as fast as it can. The
 * workload moves money between accounts (the total never changes) and logs every move
 * in `transfers`, so a snapshot that mixes two moments shows a wrong total, balances that
 * disagree with the log, or a broken b-tree. Eight backups are taken while it runs, in
 * WAL mode (SQLite's default autocheckpoint, and a checkpoint every 10 pages to force
 * frequent checkpoints and WAL restarts) and in rollback-journal mode; one more is taken
 * after the workload is killed, from the crashed state.
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { restore } from '../../src/ops/restore.js'
import type { Snapshot } from '../../src/repository/index.js'
import {
  createTransferDb,
  integrityCheck,
  openSqliteRepo,
  startTransferWorkload,
} from '../support/sqlite-correctness.js'
import { tempDir } from '../support/tmp.js'

const seed = 7321
const accounts = 2000
const initialBalance = 1_000_000
const fillerChars = 150
const snapshotsToTake = 8

interface Variant {
  name: string
  journalMode: 'wal' | 'delete'
  walAutocheckpoint?: number
}

const variants: Variant[] = [
  { name: 'WAL mode, default autocheckpoint', journalMode: 'wal' },
  { name: 'WAL mode, wal_autocheckpoint=10', journalMode: 'wal', walAutocheckpoint: 10 },
  { name: 'rollback-journal mode', journalMode: 'delete' },
]

interface SnapshotState {
  integrity: string[]
  total: number
  transfers: number
  maxId: number
  /** Accounts whose balance disagrees with the transfers log. */
  mismatched: number
}

function readState(path: string): SnapshotState {
  const integrity = integrityCheck(path)
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const total = Number(db.prepare('SELECT sum(balance) FROM accounts').pluck().get())
    const transfers = Number(db.prepare('SELECT count(*) FROM transfers').pluck().get())
    const maxId = Number(db.prepare('SELECT coalesce(max(id), 0) FROM transfers').pluck().get())
    const mismatched = Number(
      db
        .prepare(
          `WITH moves AS (SELECT src AS id, -amount AS delta FROM transfers UNION ALL SELECT dst, amount FROM transfers),
            net AS (SELECT id, sum(delta) AS delta FROM moves GROUP BY id)
          SELECT count(*) FROM accounts a LEFT JOIN net n ON n.id = a.id
          WHERE a.balance != ? + coalesce(n.delta, 0)`,
        )
        .pluck()
        .get(initialBalance),
    )
    return { integrity, total, transfers, maxId, mismatched }
  } finally {
    db.close()
  }
}

async function underLoad(variant: Variant): Promise<void> {
  const dir = await tempDir('drkit-sqlite-consistency-')
  const repo = await openSqliteRepo(dir)
  try {
    createTransferDb({
      path: repo.db,
      journalMode: variant.journalMode,
      accounts,
      initialBalance,
      prefillRows: 50_000,
      fillerChars,
      seed,
    })
    const workload = startTransferWorkload({
      path: repo.db,
      accounts,
      seed,
      fillerChars,
      walAutocheckpoint: variant.walAutocheckpoint,
    })
    const snapshots: Snapshot[] = []
    try {
      await workload.started
      for (let i = 0; i < snapshotsToTake; i++) {
        if (workload.child.exitCode !== null) throw new Error(`the workload died: ${workload.stderr()}`)
        snapshots.push((await backup(repo.ctx, 'app-db', { waitMs: 10_000 })).snapshot)
        await sleep(100)
      }
      expect(workload.child.exitCode, `the workload died: ${workload.stderr()}`).toBeNull()
    } finally {
      await workload.stop()
    }
    // The workload was killed, likely mid-transaction: a hot journal or a torn WAL tail is left behind.
    snapshots.push((await backup(repo.ctx, 'app-db')).snapshot)

    const states: SnapshotState[] = []
    for (const [i, snapshot] of snapshots.entries()) {
      const what = `${variant.name}, snapshot ${i + 1} of ${snapshots.length} (${snapshot.id.slice(0, 8)}, seed ${seed})`
      expect(snapshot.details.journalMode, what).toBe(variant.journalMode)
      const target = join(dir, `restored-${i}.db`)
      await restore(repo.ctx, { resource: 'app-db', target, snapshot: snapshot.id })
      let state: SnapshotState
      try {
        state = readState(target)
      } catch (err) {
        throw new Error(`${what}: the restored database cannot be read: ${(err as Error).message}`, { cause: err })
      }
      expect(state.integrity, what).toEqual(['ok'])
      expect(state.total, what).toBe(accounts * initialBalance)
      expect(state.mismatched, `${what}: accounts whose balance disagrees with the transfers log`).toBe(0)
      expect(state.maxId, `${what}: transfer ids have a gap`).toBe(state.transfers)
      // The row counts in the manifest come from the same read transaction as the image.
      const counted = Object.fromEntries(snapshot.tables.map((t) => [t.name, t.rows]))
      expect(counted, what).toEqual({ accounts, transfers: state.transfers })
      const previous = states.at(-1)
      if (previous) {
        expect(state.transfers, `${what}: fewer transfers than the snapshot before`).toBeGreaterThanOrEqual(
          previous.transfers,
        )
      }
      states.push(state)
    }
    // The workload really wrote while the snapshots were taken.
    expect(
      states.at(-1)!.transfers,
      `${variant.name}: no transfers between the first and last snapshot`,
    ).toBeGreaterThan(states[0]!.transfers)
  } finally {
    await repo.close()
  }
}

describe('sqlite snapshots under a concurrent transfer workload', () => {
  for (const variant of variants) {
    test(`${variant.name} (seed ${seed})`, () => underLoad(variant), 120_000)
  }
})
