import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import type { Fingerprint } from '../source.js'
import { listUserTables, quoteIdent } from './schema.js'

/**
 * Per table: the row count and an order-independent content hash (the lane-wise sum of
 * each row's SHA-256), so that two databases with the same rows compare equal whatever
 * their page layout or rowids. `sqlite_schema` is included as a table of its own, so
 * views, triggers and indexes count too. Values are hashed exactly: integers as
 * 64-bit, reals by their IEEE bits, text as UTF-8, blobs as bytes.
 */
export function fingerprintSqlite(path: string, only?: string[]): Fingerprint {
  const db = new Database(path, { fileMustExist: true, readonly: true })
  try {
    db.exec('BEGIN')
    const tables: Fingerprint['tables'] = {}
    for (const name of listUserTables(db)) {
      if (only && !only.includes(name)) continue
      tables[name] = hashRows(db.prepare(`SELECT * FROM ${quoteIdent(name)}`))
    }
    if (!only) {
      tables.sqlite_schema = hashRows(
        db.prepare(
          "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
            "AND name NOT LIKE '\\_drkit\\_%' ESCAPE '\\'",
        ),
      )
    }
    db.exec('COMMIT')
    return { tables }
  } finally {
    db.close()
  }
}

function hashRows(stmt: Database.Statement): { rows: number; hash: string } {
  const lanes = new Uint32Array(8)
  let rows = 0
  for (const row of stmt.raw(true).safeIntegers(true).iterate() as IterableIterator<unknown[]>) {
    const digest = createHash('sha256').update(encodeRow(row)).digest()
    for (let i = 0; i < 8; i++) lanes[i] = (lanes[i]! + digest.readUInt32BE(i * 4)) >>> 0
    rows++
  }
  return { rows, hash: Buffer.from(lanes.buffer).toString('hex') }
}

/** A canonical, type-tagged encoding of one row. */
function encodeRow(row: unknown[]): Buffer {
  const parts: Buffer[] = []
  for (const value of row) {
    if (value === null) parts.push(Buffer.from('n'))
    else if (typeof value === 'bigint') parts.push(Buffer.from(`i${value};`))
    else if (typeof value === 'number') {
      const b = Buffer.alloc(9)
      b.write('r')
      b.writeDoubleBE(value, 1)
      parts.push(b)
    } else if (typeof value === 'string') {
      const text = Buffer.from(value, 'utf8')
      parts.push(Buffer.from(`t${text.length}:`), text)
    } else {
      const blob = value as Buffer
      parts.push(Buffer.from(`b${blob.length}:`), blob)
    }
  }
  return Buffer.concat(parts)
}
