import { setTimeout as sleep } from 'node:timers/promises'
import type { NamedStream, SourceImage, TableInfo } from '../source.js'
import { alignWithCapture, parseSnapshot } from './align.js'
import { readAhead } from './buffer.js'
import { displayName, listSequences, listTables, quotedName } from './catalog.js'
import { connect, databaseOf, type PgClient } from './connect.js'
import { captureNames, readState } from './install.js'
import { ParallelCopy, type Part, planParts } from './readers.js'
import { checkPgDump, runOutput } from './tools.js'

/**
 * A consistent image of a live database, while it is being written:
 *
 * 1. One REPEATABLE READ transaction holds the image: its snapshot is exported, so that
 *    pg_dump describes the schema as of the same moment, and its tables are share-locked
 *    so that no DDL changes them until the image is read.
 * 2. Streams, in order: `pre-data` (types, tables, functions, ...), one stream per table
 *    (COPY text, exact for every type), `post-data` (indexes, constraints, triggers).
 *    Sequence values and the table list go in the details.
 * 3. With capture installed, the image records the seq of the last change it contains
 *    (align.ts), so a replay after it applies exactly the transactions it lacks.
 */
/** The schema sections are small; this only bounds a pathological one. */
const schemaLimit = 16 * 2 ** 20

export async function snapshotPostgres(url: string, resource: string): Promise<SourceImage> {
  for (let attempt = 1; ; attempt++) {
    const image = await tryImage(url, resource)
    if (image) return image
    // A transaction was committed but not yet visible when the snapshot was taken: take another.
    await sleep(20 * attempt)
  }
}

async function tryImage(url: string, resource: string): Promise<SourceImage | undefined> {
  const client = await connect(url, resource)
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { rows } = await client.query<{
      id: string
      snap: string
      lsn: string | null
      ms: string
      version: string
      encoding: string
    }>(`SELECT pg_export_snapshot() AS id, pg_current_snapshot()::text AS snap,
          CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END AS lsn,
          floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms,
          current_setting('server_version_num') AS version, pg_encoding_to_char(encoding) AS encoding
        FROM pg_database WHERE datname = current_database()`)
    const info = rows[0]!
    const serverMajor = Math.floor(Number(info.version) / 10000)
    await checkPgDump(serverMajor)
    const tables = await listTables(client)
    if (tables.length > 0) await client.query(`LOCK TABLE ${tables.map(quotedName).join(', ')} IN ACCESS SHARE MODE`)
    const sequences = await listSequences(client)
    const state = info.lsn ? await readState(client, captureNames(resource, databaseOf(url))) : undefined
    let capture: { generation: string; seq: number } | undefined
    if (state) {
      const seq = await alignWithCapture(url, resource, state.generation, parseSnapshot(info.snap), info.lsn!)
      if (seq === undefined) {
        await client.query('ROLLBACK')
        await client.end()
        return undefined
      }
      capture = { generation: state.generation, seq }
    }
    const counters = tables.map(() => ({ rows: 0 }))
    const parts = await planParts(client, tables, serverMajor, counters)
    const counted: TableInfo[] = []
    const details = {
      serverVersion: Number(info.version),
      encoding: info.encoding,
      tables: JSON.stringify(tables.map((t) => ({ schema: t.schema, name: t.name, columns: t.columns }))),
      sequences: JSON.stringify(
        sequences.map((s) => ({ schema: s.schema, name: s.name, value: s.lastValue, called: s.isCalled })),
      ),
    }
    return {
      position: { time: new Date(Number(info.ms)).toISOString(), ...capture },
      tables: counted,
      details,
      streams: streams(client, url, resource, info.id, parts, counted),
    }
  } catch (err) {
    await client.end().catch(() => {})
    throw err
  }
}

/**
 * The image's streams, read ahead while the repository consumes them: both schema
 * sections from the start, the tables' rows in parts over several connections.
 */
async function* streams(
  client: PgClient,
  url: string,
  resource: string,
  snapshotId: string,
  tables: Part[][],
  counted: TableInfo[],
): AsyncIterable<NamedStream> {
  const pre = readAhead(dump(url, snapshotId, 'pre-data'), schemaLimit)
  const post = readAhead(dump(url, snapshotId, 'post-data'), schemaLimit)
  let copy: ParallelCopy | undefined
  try {
    copy = await ParallelCopy.start(url, resource, snapshotId, tables.flat())
    yield { name: 'pre-data', chunking: { kind: 'cdc' }, data: pre.data }
    for (const parts of tables) {
      const table = parts[0]!.table
      const entry = { name: displayName(table), rows: 0 }
      counted.push(entry)
      yield {
        name: `data:${quotedName(table)}`,
        chunking: { kind: 'cdc' },
        data: concat(parts, () => {
          entry.rows = parts[0]!.rows.rows
        }),
      }
    }
    yield { name: 'post-data', chunking: { kind: 'cdc' }, data: post.data }
  } finally {
    pre.close()
    post.close()
    await copy?.close()
    await client.query('COMMIT').catch(() => {})
    await client.end().catch(() => {})
  }
}

/** A table's rows: its parts one after another; `done` runs once all are read. */
async function* concat(parts: Part[], done: () => void): AsyncIterable<Uint8Array> {
  for (const part of parts) yield* part.buffer.drain()
  done()
}

/** The schema section as pg_dump writes it, as of the exported snapshot; drkit's own objects left out. */
function dump(url: string, snapshotId: string, section: 'pre-data' | 'post-data'): AsyncIterable<Uint8Array> {
  const args = [
    '--schema-only',
    `--section=${section}`,
    `--snapshot=${snapshotId}`,
    '--no-publications',
    '--no-subscriptions',
    '--exclude-schema=_drkit',
    '--dbname',
    url,
  ]
  return runOutput('pg_dump', args, `pg_dump of the ${section} schema`)
}
