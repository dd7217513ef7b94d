import { availableParallelism } from 'node:os'
import { BoundedBuffer } from './buffer.js'
import { type PgTable, quotedName } from './catalog.js'
import { connect, ident, literal, type PgClient } from './connect.js'
import { CopyOut } from './copy-out.js'

/** Heap pages per part of a big table: 8 MiB at the default block size. */
const partPages = 1024
/** Bytes of COPY text a part may hold before its reader waits for the repository. */
const partLimit = 16 * 2 ** 20
/** Connections that read parts at once: the server's COPY, not drkit, is the slower side. */
export const parallelConnections = Math.max(2, Math.min(4, availableParallelism()))
/** Parts read or held at once, counted from the one the repository is consuming. */
const partsAhead = parallelConnections + 1

/** A range of a table's heap pages (`to` absent: to the end), read by one COPY. */
export interface Part {
  table: PgTable
  from: number
  to?: number
  rows: { rows: number }
  buffer: BoundedBuffer
}

/**
 * Cuts each table into ranges of pages, read by TID range scans (PostgreSQL 14 and
 * newer; older servers read each table whole). Parts are in table order, then page
 * order, so concatenated they are each table's rows in the order of a sequential scan.
 */
export async function planParts(
  client: PgClient,
  tables: PgTable[],
  serverMajor: number,
  counters: { rows: number }[],
): Promise<Part[][]> {
  let pages: number[] = tables.map(() => 0)
  if (serverMajor >= 14 && tables.length > 0) {
    const { rows } = await client.query<{ pages: number }>(
      `SELECT (pg_relation_size(n::regclass) / current_setting('block_size')::bigint)::int AS pages
       FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i) ORDER BY i`,
      [tables.map(quotedName)],
    )
    pages = rows.map((r) => r.pages)
  }
  return tables.map((table, t) => {
    const parts: Part[] = []
    const whole = table.columns.length === 0 ? 0 : pages[t]!
    for (let from = 0; ; from += partPages) {
      const last = from + partPages >= whole
      parts.push({ table, from, to: last ? undefined : from + partPages, rows: counters[t]!, buffer: part() })
      if (last) break
    }
    return parts
  })
}

const part = () => new BoundedBuffer(partLimit)

/**
 * Reads parts over several connections that share the image's exported snapshot, each
 * into its own bounded buffer, in order: a reader takes the next part once it has
 * finished one, so the repository always finds the part it needs next started.
 */
export class ParallelCopy {
  private next = 0
  private stopped = false
  private readonly clients: PgClient[] = []
  private readonly running: Promise<void>[] = []

  private constructor(private readonly parts: Part[]) {}

  static async start(url: string, resource: string, snapshotId: string, parts: Part[]): Promise<ParallelCopy> {
    const copy = new ParallelCopy(parts)
    try {
      for (let i = 0; i < Math.min(parallelConnections, parts.length); i++) {
        const client = await connect(url, resource)
        copy.clients.push(client)
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshotId)}`)
      }
    } catch (err) {
      await copy.close()
      throw err
    }
    for (const client of copy.clients) copy.running.push(copy.work(client))
    return copy
  }

  private async work(client: PgClient): Promise<void> {
    while (!this.stopped && this.next < this.parts.length) {
      const index = this.next++
      const part = this.parts[index]!
      // The server reads faster than the repository stores: without this, the readers would
      // run ahead through a whole table, each part held in memory until its turn.
      await this.parts[index - partsAhead]?.buffer.closing
      try {
        await this.read(client, part)
        part.buffer.end()
      } catch (err) {
        // The repository meets the failure when it reaches this part; later parts are not read.
        this.stopped = true
        part.buffer.end(err)
      }
    }
  }

  private async read(client: PgClient, part: Part): Promise<void> {
    const { table, from, to } = part
    const columns = table.columns.map(ident).join(', ')
    const range = [from > 0 ? `ctid >= '(${from},0)'::tid` : '', to !== undefined ? `ctid < '(${to},0)'::tid` : '']
      .filter(Boolean)
      .join(' AND ')
    const sql =
      range === ''
        ? `COPY ${quotedName(table)}${columns ? ` (${columns})` : ''} TO STDOUT`
        : `COPY (SELECT ${columns} FROM ${quotedName(table)} WHERE ${range}) TO STDOUT`
    const stream = client.query(new CopyOut(sql))
    for await (const chunk of stream) {
      await part.buffer.push(chunk as Buffer)
      if (part.buffer.isClosed) {
        stream.destroy()
        return
      }
    }
    part.rows.rows += stream.rows
  }

  /** Stops reading: buffers are released, connections closed. */
  async close(): Promise<void> {
    this.stopped = true
    for (const p of this.parts) p.buffer.close()
    await Promise.all(this.clients.map((c) => c.end().catch(() => {})))
    await Promise.allSettled(this.running)
  }
}
