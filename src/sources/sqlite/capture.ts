import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import type { Boundary, Change, Row, Value } from '../../model.js'
import type { Capture, CaptureRead, CaptureState } from '../source.js'
import {
  type CapturedTable,
  captureInfo,
  changelog,
  changelogSql,
  describeTables,
  dropCaptureObjects,
  newestSeqSql,
  triggerSql,
} from './triggers.js'

/**
 * Trigger-based change capture for a live SQLite database.
 *
 * Triggers copy every row change, with before and after images, into `_drkit_changes`
 * inside the application's own transaction: a change is in the changelog exactly when
 * its transaction commits. SQLite has one writer at a time, so each transaction's changes
 * are a contiguous run of `seq` values. Triggers cannot see where one transaction ends
 * and the next begins; boundaries are proven from outside instead: whenever a read sees
 * the newest `seq`, every change up to it is committed. `poll` does that cheaply each time
 * `PRAGMA data_version` says another connection committed, so boundaries are as fine as
 * the poll interval (see docs/CAPTURE.md).
 */
export function openSqliteCapture(path: string, busyTimeoutMs: number): Capture {
  const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs })
  db.defaultSafeIntegers(true)
  let lastDataVersion: unknown
  let tablesCache: { generation: string; tables: Map<string, CapturedTable> } | undefined

  const info = (key: string): string | undefined => {
    const row = db.prepare(`SELECT value FROM ${captureInfo} WHERE key = ?`).get(key) as { value: string } | undefined
    return row?.value
  }
  const isInstalled = () =>
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(captureInfo) !== undefined
  const currentSeq = (): number => Number(db.prepare(newestSeqSql).pluck().get())
  const schemaVersion = () => Number(db.pragma('schema_version', { simple: true }))

  const installFresh = (): CaptureState & { installed: boolean; warnings: string[] } => {
    dropCaptureObjects(db)
    const { tables, skipped } = describeTables(db)
    const width = Math.max(0, ...tables.map((t) => t.columns.length))
    db.exec(`CREATE TABLE ${captureInfo} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
    for (const sql of changelogSql(width)) db.exec(sql)
    for (const table of tables) for (const sql of triggerSql(table)) db.exec(sql)
    const generation = newGeneration()
    const put = db.prepare(`INSERT INTO ${captureInfo} (key, value) VALUES (?, ?)`)
    put.run('generation', generation)
    put.run('tables', JSON.stringify(tables))
    put.run('schema_version', String(schemaVersion()))
    const warnings = skipped.map(
      (name) =>
        `table ${name} cannot be captured (a virtual table or part of one, or columns named rowid, _rowid_ and oid), ` +
        'so point-in-time restores show it as of the snapshot they start from',
    )
    return { generation, seq: 0, installed: true, warnings }
  }

  const writeTransaction = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      db.exec('COMMIT')
      return result
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw err
    }
  }

  const tablesOf = (generation: string): Map<string, CapturedTable> => {
    if (tablesCache?.generation !== generation) {
      const list = JSON.parse(info('tables') ?? '[]') as CapturedTable[]
      tablesCache = { generation, tables: new Map(list.map((t) => [t.name, t])) }
    }
    return tablesCache.tables
  }

  return {
    async install() {
      return writeTransaction(() => {
        if (isInstalled()) {
          return { generation: info('generation') ?? '', seq: currentSeq(), installed: false, warnings: [] }
        }
        return installFresh()
      })
    },

    async position() {
      db.exec('BEGIN')
      try {
        if (!isInstalled()) return undefined
        const generation = info('generation') ?? ''
        const seq = currentSeq()
        return { generation, boundary: { seq, time: provenNow() } }
      } finally {
        if (db.inTransaction) db.exec('COMMIT')
      }
    },

    async poll() {
      const version = db.pragma('data_version', { simple: true })
      if (version === lastDataVersion) return undefined
      lastDataVersion = version
      if (!isInstalled()) return undefined
      const seq = currentSeq()
      return { seq, time: provenNow() } satisfies Boundary
    },

    async read(generation, after, limit) {
      db.exec('BEGIN')
      try {
        const installed = isInstalled()
        const found = installed ? info('generation') : undefined
        const time = provenNow()
        if (!installed || found !== generation) {
          const detail = installed
            ? `the database's capture generation is ${found}, not ${generation}: it was reinstalled or the file replaced`
            : 'capture is no longer installed in the database'
          return broken(generation, time, 'reinstalled', detail)
        }
        const seq = currentSeq()
        const state = { generation, seq }
        if (String(schemaVersion()) !== info('schema_version')) {
          return {
            state,
            boundary: { seq, time },
            changes: [],
            broken: { reason: 'schema-change', detail: 'the schema changed' },
          }
        }
        const expected = after + 1
        // The anchor (the change stored last) is kept by `acknowledge`: without it, rows were deleted by hand.
        const anchored = db.prepare(`SELECT 1 FROM ${changelog} WHERE seq = ?`).get(after) !== undefined
        if (seq < after || !anchored) {
          const detail = `change ${after}, the last one stored, is gone from ${changelog}: changes after it may be missing`
          return { state, boundary: { seq, time }, changes: [], broken: { reason: 'gap', detail } }
        }
        const rows = db
          .prepare(`SELECT * FROM ${changelog} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
          .raw(true)
          .all(after, seq, limit) as Value[][]
        const hole = rows.findIndex((r, i) => Number(r[0]) !== expected + i)
        if (hole >= 0) {
          const detail = `changes ${expected + hole} to ${Number(rows[hole]![0]) - 1} are missing from ${changelog}`
          return { state, boundary: { seq, time }, changes: [], broken: { reason: 'gap', detail } }
        }
        const tables = tablesOf(generation)
        return { state, boundary: { seq, time }, changes: rows.map((r) => toChange(r, tables)) } satisfies CaptureRead
      } finally {
        if (db.inTransaction) db.exec('COMMIT')
      }
    },

    async acknowledge(upTo) {
      // The change at upTo stays as the anchor (see changelogSql).
      writeTransaction(() => db.prepare(`DELETE FROM ${changelog} WHERE seq < ?`).run(upTo))
    },

    async reinstall() {
      const { generation } = writeTransaction(installFresh)
      tablesCache = undefined
      return { generation, seq: 0 }
    },

    async remove() {
      writeTransaction(() => dropCaptureObjects(db))
    },

    async close() {
      db.close()
    },
  }
}

function broken(generation: string, time: number, reason: 'reinstalled', detail: string): CaptureRead {
  return { state: { generation, seq: 0 }, boundary: { seq: 0, time }, changes: [], broken: { reason, detail } }
}

/**
 * The time of a boundary proven now: Date.now() rounds down, and a commit a fraction of a
 * millisecond ago must not look later than its boundary.
 */
export function provenNow(): number {
  return Date.now() + 1
}

/** Generation ids sort by the time they began. */
function newGeneration(): string {
  // Milliseconds included: two generations can begin within one second (a gap, then a schema change).
  const stamp = new Date().toISOString().replace(/[-:]/g, '')
  return `${stamp}-${randomBytes(3).toString('hex')}`
}

const julianEpoch = 2440587.5
const ops = { i: 'insert', u: 'update', d: 'delete' } as const

function toChange(row: Value[], tables: Map<string, CapturedTable>): Change {
  const [seq, time, tbl, op, oldRowid, newRowid] = row
  const table = tables.get(String(tbl))
  const columns = table?.columns ?? []
  const image = (letter: 0 | 1): Row => {
    const out: Row = {}
    columns.forEach((c, i) => {
      out[c] = row[6 + i * 2 + letter] ?? null
    })
    return out
  }
  const kind = ops[String(op) as keyof typeof ops]
  return {
    seq: Number(seq),
    time: Math.round((Number(time) - julianEpoch) * 86_400_000),
    table: String(tbl),
    op: kind,
    ...(table?.rowid ? { rowid: { before: oldRowid ?? null, after: newRowid ?? null } } : {}),
    before: kind === 'insert' ? null : image(0),
    after: kind === 'delete' ? null : image(1),
  }
}
