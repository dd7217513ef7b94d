import { createHash } from 'node:crypto'
import type { Fingerprint } from '../source.js'
import { displayName, listTables, quotedName, schemaDigest } from './catalog.js'
import { ident, type PgClient } from './connect.js'
import { CopyOut } from './copy-out.js'

/**
 * Per table: the row count and an order-independent content hash (the lane-wise sum of
 * each row's SHA-256 over its COPY text line, exact for every type under drkit's session
 * settings). `(schema)` holds a digest of tables, columns, types and indexes.
 * Read in one REPEATABLE READ transaction, so the tables agree with each other.
 */
export async function fingerprintPostgres(client: PgClient, only?: string[]): Promise<Fingerprint> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  try {
    const tables: Fingerprint['tables'] = {}
    for (const table of await listTables(client)) {
      const name = displayName(table)
      if (only && !only.includes(name)) continue
      const columns = table.columns.map(ident).join(', ')
      tables[name] = await hashRows(client, `COPY (SELECT ${columns} FROM ${quotedName(table)}) TO STDOUT`)
    }
    if (!only) tables['(schema)'] = { rows: 0, hash: await schemaDigest(client) }
    return { tables }
  } finally {
    await client.query('COMMIT').catch(() => {})
  }
}

async function hashRows(client: PgClient, sql: string): Promise<{ rows: number; hash: string }> {
  const lanes = new Uint32Array(8)
  let rows = 0
  let rest = Buffer.alloc(0)
  const add = (line: Buffer) => {
    const digest = createHash('sha256').update(line).digest()
    for (let i = 0; i < 8; i++) lanes[i] = (lanes[i]! + digest.readUInt32BE(i * 4)) >>> 0
    rows++
  }
  for await (const chunk of client.query(new CopyOut(sql))) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer)
    let start = 0
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
      add(buf.subarray(start, nl))
      start = nl + 1
    }
    rest = Buffer.from(buf.subarray(start))
  }
  return { rows, hash: Buffer.from(lanes.buffer).toString('hex') }
}
