import pg from 'pg'
import { DrkitError, PlanError } from '../../errors.js'

/** The part of a `pg` client the source uses. */
export type PgClient = pg.Client

/** Session settings that make every value's text form the same on every connection. */
const canonicalSession =
  "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"

/** A connection URL with another database name (same server, user and options). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/** The database a URL names. */
export function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  if (!name) throw new PlanError(`${redact(url)} names no database`, 'Add it: postgres://user@host:5432/dbname.')
  return name
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(an invalid URL)'
  }
}

export function checkUrl(url: string, what: string): void {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new PlanError(`${what}: "${redact(url)}" is not a PostgreSQL URL`, 'Use postgres://user@host:5432/dbname.')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new PlanError(`${what}: "${redact(url)}" is not a PostgreSQL URL`, 'Use postgres://user@host:5432/dbname.')
  }
  databaseOf(url)
}

/** Connects with canonical session settings; connection failures become errors that say what to check. */
export async function connect(url: string, what: string, opts: { replication?: boolean } = {}): Promise<PgClient> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'drkit',
    ...(opts.replication ? { replication: 'database' } : {}),
  })
  // A server that goes away mid-session emits 'error' on the client; the pending query rejects too.
  client.on('error', () => {})
  try {
    await client.connect()
    if (!opts.replication) await client.query(canonicalSession)
    return client
  } catch (cause) {
    await client.end().catch(() => {})
    throw connectionError(cause, url, what)
  }
}

/** Runs fn with a fresh connection, closed afterwards. */
export async function withClient<T>(url: string, what: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = await connect(url, what)
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

function connectionError(cause: unknown, url: string, what: string): DrkitError {
  const err = cause as { code?: string; message?: string }
  const where = redact(url)
  if (
    err.code === 'ECONNREFUSED' ||
    err.code === 'ENOTFOUND' ||
    err.code === 'EHOSTUNREACH' ||
    err.code === 'ETIMEDOUT'
  ) {
    return new DrkitError(
      `${what}: cannot reach PostgreSQL at ${where} (${err.code})`,
      'Check that the server runs and that the host and port in the URL are right.',
      { cause },
    )
  }
  if (err.code === '28P01' || err.code === '28000') {
    return new DrkitError(
      `${what}: PostgreSQL at ${where} refused the credentials (${err.message})`,
      'Check the user and password in the URL, and pg_hba.conf on the server.',
      { cause },
    )
  }
  if (err.code === '3D000') {
    return new DrkitError(`${what}: ${err.message} at ${where}`, 'Check the database name in the URL.', { cause })
  }
  return new DrkitError(`${what}: cannot connect to ${where}: ${err.message ?? String(cause)}`, undefined, { cause })
}

/** Double-quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** A schema-qualified, quoted name. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`
}

/** Single-quotes a literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}
