import { Redis } from 'ioredis'
import { DrkitError, PlanError } from '../../errors.js'

/**
 * The part of an ioredis client the Redis source uses: SCAN, pipelines of single
 * commands, EVAL (through callBuffer), DBSIZE and INFO. Tests can hand in a real client;
 * this says what it must do.
 */
export type RedisClient = Pick<
  Redis,
  'scanBuffer' | 'pipeline' | 'dbsize' | 'info' | 'call' | 'callBuffer' | 'quit' | 'disconnect'
>

export interface RedisAddress {
  host: string
  port: number
  db: number
  tls: boolean
  /** host:port/db, for messages (never the password). */
  label: string
}

/** A redis:// or rediss:// URL; PlanError naming what is wrong. */
export function parseRedisUrl(text: string, what: string): RedisAddress & { url: URL } {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new PlanError(
      `${what}: "${text}" is not a URL`,
      'Write it as redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0.',
    )
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new PlanError(`${what}: "${text}" is not a redis:// URL`, 'Write it as redis://HOST:PORT/DB.')
  }
  const path = url.pathname.replace(/^\//, '')
  if (path !== '' && !/^\d+$/.test(path)) {
    throw new PlanError(`${what}: "${path}" in ${url.host}/${path} is not a database number`, 'Use e.g. /0 or /5.')
  }
  const host = url.hostname || '127.0.0.1'
  const port = url.port ? Number(url.port) : 6379
  const db = path === '' ? 0 : Number(path)
  return { url, host, port, db, tls: url.protocol === 'rediss:', label: `${host}:${port}/${db}` }
}

/**
 * A Redis URL given as a restore target. The restore command resolves every --to as a
 * path (`/cwd/redis:/host:port/db`); the URL is recovered from such a path here.
 */
export function targetUrl(target: string): string {
  const m = /(rediss?):\/+(.*)$/.exec(target)
  return m ? `${m[1]}://${m[2]}` : target
}

/** A connected client; DrkitError naming host:port when the server cannot be reached. */
export async function connectRedis(address: RedisAddress & { url: URL }, what: string): Promise<Redis> {
  const client = new Redis({
    host: address.host,
    port: address.port,
    db: address.db,
    username: decodeURIComponent(address.url.username) || undefined,
    password: decodeURIComponent(address.url.password) || undefined,
    tls: address.tls ? {} : undefined,
    lazyConnect: true,
    connectTimeout: 5_000,
    // Fail fast and say so: a backup should not hang on a server that is down.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.ping()
  } catch (cause) {
    client.disconnect()
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
    throw new DrkitError(
      `${what}: cannot reach Redis at ${address.host}:${address.port} (${reason})`,
      'Check that the server runs and that the URL, password and network allow drkit to connect.',
      { cause },
    )
  }
  return client
}

/** The server's version (INFO server), for the image's details. */
export async function serverVersion(client: RedisClient): Promise<string> {
  const info = await client.info('server')
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
}
