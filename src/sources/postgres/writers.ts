import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom } from 'pg-copy-streams'
import { DrkitError } from '../../errors.js'
import { displayName } from './catalog.js'
import { connect, ident, type PgClient, qualified } from './connect.js'
import { parallelConnections } from './readers.js'

/** COPY text per block: each block is one COPY FROM on whichever connection is free. */
const blockSize = 8 * 2 ** 20

export interface LoadTable {
  schema: string
  name: string
  columns: string[]
}

/**
 * Loads tables' rows over several connections at once: each table's stream is cut into
 * blocks of whole rows (COPY text ends every row with a newline and escapes those inside
 * values), and each block is COPYed on the next free connection while the following one
 * is read. At most one block per connection is held, plus the one being cut.
 */
export class ParallelLoad {
  private readonly free: PgClient[] = []
  private readonly waiting: ((c: PgClient) => void)[] = []
  private readonly jobs = new Set<Promise<void>>()
  private failure: unknown

  private constructor(private readonly clients: PgClient[]) {
    this.free.push(...clients)
  }

  static async open(url: string): Promise<ParallelLoad> {
    const clients: PgClient[] = []
    try {
      for (let i = 0; i < parallelConnections; i++) {
        const client = await connect(url, 'the restore target')
        clients.push(client)
        // Nothing sees the scratch database before its rename, whose commit flushes all the WAL before it.
        await client.query('SET synchronous_commit = off')
      }
    } catch (err) {
      await Promise.all(clients.map((c) => c.end().catch(() => {})))
      throw err
    }
    return new ParallelLoad(clients)
  }

  /** Reads a table's rows and hands them out in blocks; resolves once the last block is handed out. */
  async add(table: LoadTable, data: AsyncIterable<Uint8Array>): Promise<void> {
    let pending: Uint8Array[] = []
    let size = 0
    for await (const chunk of data) {
      pending.push(chunk)
      size += chunk.length
      if (size < blockSize) continue
      const cut = chunk.lastIndexOf(10) + 1
      if (cut === 0) continue
      pending[pending.length - 1] = chunk.subarray(0, cut)
      await this.dispatch(table, pending)
      pending = cut < chunk.length ? [chunk.subarray(cut)] : []
      size = chunk.length - cut
    }
    if (size > 0) await this.dispatch(table, pending)
  }

  /** Waits for every block; the first failure is thrown. */
  async finish(): Promise<void> {
    await Promise.all(this.jobs)
    if (this.failure !== undefined) throw this.failure
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.jobs)
    await Promise.all(this.clients.map((c) => c.end().catch(() => {})))
  }

  private async dispatch(table: LoadTable, block: Uint8Array[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    const client = this.free.pop() ?? (await new Promise<PgClient>((resolve) => this.waiting.push(resolve)))
    const job = copyIn(client, table, block)
      .catch((err) => {
        this.failure ??= err
      })
      .finally(() => {
        this.jobs.delete(job)
        const next = this.waiting.shift()
        if (next) next(client)
        else this.free.push(client)
      })
    this.jobs.add(job)
  }
}

async function copyIn(client: PgClient, table: LoadTable, block: Uint8Array[]): Promise<void> {
  const columns = table.columns.length > 0 ? ` (${table.columns.map(ident).join(', ')})` : ''
  const sink = client.query(copyFrom(`COPY ${qualified(table.schema, table.name)}${columns} FROM STDIN`))
  try {
    await pipeline(Readable.from(block), sink)
  } catch (cause) {
    throw new DrkitError(`restoring the rows of ${displayName(table)} failed: ${(cause as Error).message}`, undefined, {
      cause,
    })
  }
}
