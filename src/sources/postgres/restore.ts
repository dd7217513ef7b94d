import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { DrkitError, InternalError, PlanError, RefusedError } from '../../errors.js'
import type { RestoreOptions, RestoreResult, StoredImage } from '../source.js'
import { connect, databaseOf, ident, type PgClient, qualified, redact, withClient, withDatabase } from './connect.js'
import { keepPart } from './partial.js'
import { replayPostgres } from './replay.js'
import { runOutput, runPsql } from './tools.js'
import { ParallelLoad } from './writers.js'

interface ImageTable {
  schema: string
  name: string
  columns: string[]
}

interface ImageSequence {
  schema: string
  name: string
  value: string
  called: boolean
}

/**
 * Restores an image into a new database: everything is written into a scratch database
 * beside the target (schema before data, then indexes and constraints, sequence values,
 * replayed changes), which is renamed to the target only once complete. The target name
 * never holds a half-restored database.
 */
export async function restorePostgres(
  image: StoredImage,
  targetUrl: string,
  sourceUrl: string,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  if (opts.format === 'sql') throw new InternalError('a SQL file restore goes through restoreSqlFile')
  const target = databaseOf(targetUrl)
  const source = new URL(sourceUrl)
  const to = new URL(targetUrl)
  if (
    target === databaseOf(sourceUrl) &&
    to.hostname === source.hostname &&
    (to.port || '5432') === (source.port || '5432')
  ) {
    throw new RefusedError(
      `the restore target ${redact(targetUrl)} is the live database itself`,
      'Restore into a new database, check it, then switch the application over.',
    )
  }
  const admin = await connect(withDatabase(targetUrl, 'postgres'), 'the restore target server')
  const scratch = `${target.slice(0, 40)}_drkit_${randomBytes(4).toString('hex')}`
  let created = false
  try {
    const exists = await databaseExists(admin, target)
    if (exists && !opts.force && !(await isEmpty(withDatabase(targetUrl, target)))) {
      throw new RefusedError(
        `the restore target database ${target} exists and is not empty`,
        'Choose a new database name, or pass --force to replace it.',
      )
    }
    const encoding = typeof image.details.encoding === 'string' ? image.details.encoding : 'UTF8'
    await admin.query(`CREATE DATABASE ${ident(scratch)} TEMPLATE template0 ENCODING '${encoding.replace(/'/g, '')}'`)
    created = true
    const scratchUrl = withDatabase(targetUrl, scratch)
    const bytes = await load(image, scratchUrl, opts)
    if (exists) await admin.query(`DROP DATABASE ${ident(target)} WITH (FORCE)`)
    await admin.query(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(target)}`)
    created = false
    return { target: redact(targetUrl), bytes }
  } finally {
    if (created) await admin.query(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE)`).catch(() => {})
    await admin.end().catch(() => {})
  }
}

/**
 * Writes the restored state as a plain SQL file that psql loads into an empty database:
 * the image (with changes replayed and the part cut out) is restored into a scratch
 * database on the source's server, dumped by pg_dump beside the file, and renamed over it.
 */
export async function restoreSqlFile(
  image: StoredImage,
  path: string,
  sourceUrl: string,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  if ((await exists(path)) && !opts.force) {
    throw new RefusedError(
      `the restore target ${path} already exists`,
      'Choose a new path, or pass --force to replace it.',
    )
  }
  await mkdir(dirname(path), { recursive: true })
  const scratch = `drkit_export_${randomBytes(6).toString('hex')}`
  const scratchUrl = withDatabase(sourceUrl, scratch)
  const temp = join(dirname(path), `.${basename(path)}.drkit-${randomBytes(4).toString('hex')}`)
  const admin = await connect(withDatabase(sourceUrl, 'postgres'), 'the server of the source')
  try {
    const encoding = typeof image.details.encoding === 'string' ? image.details.encoding : 'UTF8'
    await admin.query(`CREATE DATABASE ${ident(scratch)} TEMPLATE template0 ENCODING '${encoding.replace(/'/g, '')}'`)
    await load(image, scratchUrl, { ...opts, format: undefined })
    const file = await open(temp, 'wx')
    try {
      for await (const chunk of runOutput(
        'pg_dump',
        ['--format=plain', '--no-publications', '--no-subscriptions', '--dbname', scratchUrl],
        'pg_dump of the restored database',
      )) {
        await file.write(chunk)
      }
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
    return { target: path, bytes: (await stat(path)).size }
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE)`).catch(() => {})
    await admin.end().catch(() => {})
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function load(image: StoredImage, url: string, opts: RestoreOptions): Promise<number> {
  const tables = new Map(
    (JSON.parse(String(image.details.tables ?? '[]')) as ImageTable[]).map((t) => [
      `data:${qualified(t.schema, t.name)}`,
      t,
    ]),
  )
  const sequences = JSON.parse(String(image.details.sequences ?? '[]')) as ImageSequence[]
  let bytes = 0
  const counted = async function* (data: AsyncIterable<Uint8Array>) {
    for await (const chunk of data) {
      bytes += chunk.length
      yield chunk
    }
  }
  const client = await connect(url, 'the restore target')
  const rows = await ParallelLoad.open(url)
  try {
    for await (const stream of image.streams) {
      if (stream.name === 'pre-data') {
        await runPsql(url, counted(stream.data), 'loading the pre-data schema')
        continue
      }
      if (stream.name === 'post-data') {
        // Indexes and constraints are built once every row is in.
        await rows.finish()
        await runPsql(url, counted(stream.data), 'loading the post-data schema')
        continue
      }
      const table = tables.get(stream.name)
      if (!table) throw new DrkitError(`the snapshot holds a stream ${stream.name} that it does not describe`)
      await rows.add(table, counted(stream.data))
    }
    await rows.finish()
    for (const s of sequences) {
      if (s.value === '') continue
      await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [
        qualified(s.schema, s.name),
        s.value,
        s.called,
      ])
    }
    if (opts.changes) {
      await replayPostgres(client, opts.changes)
      await catchUpSequences(client)
    }
    if (opts.tables !== undefined || opts.where !== undefined) await keepPart(client, opts)
  } finally {
    await rows.close()
    await client.end().catch(() => {})
  }
  return bytes
}

/**
 * Replayed inserts carry their ids but do not move sequences (logical decoding does not
 * carry them): each sequence owned by a column is moved past the column's largest value.
 */
async function catchUpSequences(client: PgClient): Promise<void> {
  const { rows } = await client.query<{ seq: string; tbl: string; col: string }>(`
    SELECT format('%I.%I', sn.nspname, s.relname) AS seq, format('%I.%I', tn.nspname, t.relname) AS tbl,
      quote_ident(a.attname) AS col
    FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
    JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0`)
  for (const r of rows) {
    await client.query(
      `SELECT setval('${r.seq.replace(/'/g, "''")}', m) FROM (SELECT max(${r.col})::bigint AS m FROM ${r.tbl}) x
       WHERE m IS NOT NULL AND m > (SELECT last_value FROM ${r.seq})`,
    )
  }
}

async function databaseExists(admin: PgClient, name: string): Promise<boolean> {
  const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  return rows.length > 0
}

/** Whether a database holds no application objects (tables, views, sequences, types, functions). */
async function isEmpty(url: string): Promise<boolean> {
  return withClient(url, 'the restore target', async (c) => {
    const { rows } = await c.query<{ n: number }>(`
      SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%')::int
           + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))::int AS n`)
    return rows[0]!.n === 0
  })
}

export function checkTarget(target: string): void {
  if (!/^postgres(ql)?:\/\//.test(target)) {
    throw new PlanError(
      `the restore target "${target}" is not a PostgreSQL URL`,
      'Give the database to restore into: --to postgres://user@host:5432/newdb.',
    )
  }
}
