import { setTimeout as sleep } from 'node:timers/promises'
import { type Backend, BackendError } from '../backend.js'

export interface RetryOptions {
  /** Tries per call, the first one included. */
  attempts?: number
  /** The wait before the first retry; it doubles with each one, up to maxDelayMs. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** No retry starts later than this after the first try, so a dead store fails in bounded time. */
  totalMs?: number
  /** Called before each wait, for logs and tests. */
  onRetry?: (info: { op: string; attempt: number; delayMs: number; error: BackendError }) => void
}

export const defaultRetryOptions = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000, totalMs: 60_000 }

/**
 * The retry policy of one call: `failed(err)` rethrows err unless it is a BackendError('transient')
 * within the attempt and time bounds (then the last error gets the count appended), else waits
 * with exponential backoff and jitter. An aborted signal ends it at once.
 */
function backoff(op: string, opts: RetryOptions, signal: AbortSignal | undefined) {
  const { attempts, baseDelayMs, maxDelayMs, totalMs } = { ...defaultRetryOptions, ...opts }
  let started = Date.now()
  let attempt = 0
  return {
    /** A listing that got further since its last failure starts its count and clock again. */
    progressed() {
      attempt = 0
      started = Date.now()
    },
    async failed(err: unknown): Promise<void> {
      if (!(err instanceof BackendError) || err.kind !== 'transient' || signal?.aborted) throw err
      attempt++
      const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      // "Equal jitter": at least half the backoff, so that waits grow, and a random rest, so that
      // clients throttled together do not all come back together.
      const delayMs = Math.round(cap / 2 + (Math.random() * cap) / 2)
      if (attempt >= attempts || Date.now() - started + delayMs > totalMs) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1)
        const tries = `gave up after ${attempt} ${attempt === 1 ? 'try' : 'tries'} in ${seconds} s`
        throw new BackendError(err.kind, `${err.message} (${tries})`, err.hint, { cause: err })
      }
      opts.onRetry?.({ op, attempt, delayMs, error: err })
      try {
        await sleep(delayMs, undefined, { signal })
      } catch (abort) {
        // The caller's reason, as the backends give it, rather than a generic AbortError.
        signal?.throwIfAborted()
        throw abort
      }
    },
  }
}

/** Runs fn, and again while it fails with BackendError('transient'), as `retrying` does for each call. */
async function retry<T>(op: string, fn: () => Promise<T>, opts: RetryOptions = {}, signal?: AbortSignal) {
  const policy = backoff(op, opts, signal)
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      await policy.failed(err)
    }
  }
}

/**
 * A Backend that retries transient failures of the one it wraps (restic's `retry`, kopia's
 * `retrying`): throttling, 5xx answers, time-outs and broken connections, as the wrapped backend
 * classifies them. Every Backend call is safe to repeat: puts replace whole objects, deletes of
 * missing keys succeed, and a list that breaks midway starts over without repeating keys.
 */
export function retrying(backend: Backend, opts: RetryOptions = {}): Backend {
  return {
    kind: backend.kind,
    location: backend.location,

    put(key, body, putOpts) {
      let failedBefore = false
      return retry(
        'put',
        async () => {
          try {
            const result = await backend.put(key, body, putOpts)
            // A conditional put that timed out may have landed: then the retry finds our own bytes.
            if (result === 'exists' && failedBefore && isSame(await backend.get(key), body)) return 'stored'
            return result
          } catch (err) {
            failedBefore = true
            throw err
          }
        },
        opts,
        putOpts?.signal,
      )
    },

    get: (key, getOpts) => retry('get', () => backend.get(key, getOpts), opts, getOpts?.signal),
    stat: (key) => retry('stat', () => backend.stat(key), opts),
    delete: (key) => retry('delete', () => backend.delete(key), opts),

    async *list(prefix, listOpts) {
      const policy = backoff('list', opts, listOpts?.signal)
      const seen = new Set<string>()
      for (;;) {
        try {
          for await (const info of backend.list(prefix, listOpts)) {
            if (seen.has(info.key)) continue
            seen.add(info.key)
            policy.progressed()
            yield info
          }
          return
        } catch (err) {
          // A generator that threw cannot go on: start the listing over and skip the keys already given.
          await policy.failed(err)
        }
      }
    },

    close: () => backend.close(),
  }
}

function isSame(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
