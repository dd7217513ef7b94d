import { type Backend, BackendError } from '../backend.js'

export type BackendOp = 'put' | 'get' | 'list' | 'delete' | 'stat'

/**
 * A Backend that fails on demand, for tests (kopia's FaultyStorage). A fault fires before the
 * call reaches the wrapped backend, so a failed put stores nothing.
 */
export interface FaultyBackend extends Backend {
  /** Calls per op, failed ones included; a list counts when its iteration starts. */
  readonly counts: Record<BackendOp, number>
  /** The next `count` calls of op fail with error (default: a BackendError('transient')). */
  failNext(op: BackendOp, error?: Error, count?: number): void
  /** From now on a random share `ratio` (0 to 1) of op's calls fail; 0 stops it. */
  failRate(op: BackendOp, ratio: number, error?: Error): void
}

export function faulty(backend: Backend): FaultyBackend {
  const counts = { put: 0, get: 0, list: 0, delete: 0, stat: 0 }
  const queued: Record<BackendOp, Error[]> = { put: [], get: [], list: [], delete: [], stat: [] }
  const rates: Partial<Record<BackendOp, { ratio: number; error: Error | undefined }>> = {}
  const injected = (op: BackendOp) => new BackendError('transient', `injected ${op} failure`)

  const enter = (op: BackendOp) => {
    counts[op]++
    const rate = rates[op]
    const error = queued[op].shift() ?? (rate && Math.random() < rate.ratio ? (rate.error ?? injected(op)) : undefined)
    if (error) throw error
  }

  return {
    kind: backend.kind,
    location: backend.location,
    counts,
    failNext(op, error, count = 1) {
      for (let i = 0; i < count; i++) queued[op].push(error ?? injected(op))
    },
    failRate(op, ratio, error) {
      rates[op] = { ratio, error }
    },
    async put(key, body, opts) {
      enter('put')
      return backend.put(key, body, opts)
    },
    async get(key, opts) {
      enter('get')
      return backend.get(key, opts)
    },
    async stat(key) {
      enter('stat')
      return backend.stat(key)
    },
    async *list(prefix, opts) {
      enter('list')
      yield* backend.list(prefix, opts)
    },
    async delete(key) {
      enter('delete')
      return backend.delete(key)
    },
    close: () => backend.close(),
  }
}
