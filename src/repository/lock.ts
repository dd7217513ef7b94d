import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { LockedError } from '../errors.js'
import type { Backend } from './backends/backend.js'
import { idOfKey, keys } from './format.js'

/**
 * Locks are small files under `locks/`. Writers of one resource exclude each other;
 * an exclusive lock excludes everyone; readers only keep exclusive and prune locks out.
 * A prune lock (the short delete phase of `forget`) excludes everyone but capture
 * shippers (write locks on `<resource>:capture`), which only add segments and heads that
 * pruning never removes while they are needed: an agent can run for months.
 *
 * Taking a lock: write ours, then list all; if one conflicts, remove ours and wait or fail.
 * Two processes that race both see each other and both back off, so at most one wins.
 * A lock is stale when its process is gone (same host) or its heartbeat is older than
 * `staleAfterMs`; stale locks are ignored and removed by the next taker.
 */
export type LockKind = 'read' | 'write' | 'exclusive' | 'prune'

export interface LockInfo {
  resource: string
  kind: LockKind
  host: string
  pid: number
  command: string
  created: string
  refreshed: string
}

export interface LockOptions {
  /** How long to wait for a conflicting lock to go away; 0 fails at once. */
  waitMs?: number
  command?: string
  heartbeatMs?: number
  staleAfterMs?: number
}

export interface Lock {
  readonly info: LockInfo
  release(): Promise<void>
}

const defaults = { heartbeatMs: 60_000, staleAfterMs: 5 * 60_000 }

export async function acquireLock(
  backend: Backend,
  resource: string,
  kind: LockKind,
  opts: LockOptions = {},
): Promise<Lock> {
  const { heartbeatMs, staleAfterMs } = { ...defaults, ...opts }
  const id = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`
  const key = keys.lock(id)
  const now = new Date().toISOString()
  const info: LockInfo = {
    resource,
    kind,
    host: hostname(),
    pid: process.pid,
    command: opts.command ?? process.argv.slice(2).join(' '),
    created: now,
    refreshed: now,
  }
  const deadline = Date.now() + (opts.waitMs ?? 0)
  for (;;) {
    try {
      await backend.put(key, Buffer.from(JSON.stringify(info)))
    } catch (err) {
      // The put may have landed although it failed: never leave a lock behind that nobody holds.
      await backend.delete(key).catch(() => undefined)
      throw err
    }
    const holder = await findConflict(backend, id, info, staleAfterMs)
    if (!holder) break
    await backend.delete(key)
    if (Date.now() >= deadline) {
      const what = holder.resource === '*' ? 'the repository' : holder.resource
      throw new LockedError(
        `${what} is locked by ${holder.command ? `"drkit ${holder.command}"` : 'another drkit'} ` +
          `(pid ${holder.pid} on ${holder.host}, since ${holder.created})`,
        'Wait for it to finish. If that process is gone, its lock goes stale after ' +
          `${Math.round(staleAfterMs / 60_000)} minutes, or remove it with \`drkit unlock\`.`,
      )
    }
    await sleep(100 + Math.random() * 400)
  }
  const timer = setInterval(() => {
    info.refreshed = new Date().toISOString()
    backend.put(key, Buffer.from(JSON.stringify(info))).catch(() => undefined)
  }, heartbeatMs)
  timer.unref()
  return {
    info,
    async release() {
      clearInterval(timer)
      await backend.delete(key)
    },
  }
}

/** A capture shipper's lock: ops/capture.ts takes a write lock on `<resource>:capture`. */
const isCapture = (l: LockInfo) => l.kind === 'write' && l.resource.endsWith(':capture')

function conflicts(a: LockInfo, b: LockInfo): boolean {
  if (a.kind === 'exclusive' || b.kind === 'exclusive') return true
  if (a.kind === 'prune') return !isCapture(b)
  if (b.kind === 'prune') return !isCapture(a)
  return a.kind === 'write' && b.kind === 'write' && a.resource === b.resource
}

async function findConflict(
  backend: Backend,
  ownId: string,
  own: LockInfo,
  staleAfterMs: number,
): Promise<LockInfo | undefined> {
  for await (const { key } of backend.list(keys.lockPrefix)) {
    if (idOfKey(key) === ownId) continue
    const other = await readLock(backend, key)
    if (!other) continue
    if (isStale(other, staleAfterMs)) {
      await backend.delete(key)
      continue
    }
    if (conflicts(own, other)) return other
  }
  return undefined
}

/** Every lock in the repository with its key, for `drkit unlock` and messages. */
export async function listLocks(backend: Backend): Promise<{ key: string; info: LockInfo }[]> {
  const found: { key: string; info: LockInfo }[] = []
  for await (const { key } of backend.list(keys.lockPrefix)) {
    const info = await readLock(backend, key)
    if (info) found.push({ key, info })
  }
  return found
}

async function readLock(backend: Backend, key: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(Buffer.from(await backend.get(key)).toString('utf8')) as LockInfo
  } catch {
    // Released between list and get, or half-written by a crashed writer: not a holder.
    return undefined
  }
}

export function isStale(lock: LockInfo, staleAfterMs = defaults.staleAfterMs): boolean {
  if (lock.host === hostname() && !isAlive(lock.pid)) return true
  return Date.now() - Date.parse(lock.refreshed) > staleAfterMs
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
