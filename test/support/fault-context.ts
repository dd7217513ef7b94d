/**
 * Library-level failure injection for the disk-full tests: an OpsContext whose repository
 * lives on a backend the test hands in (a `faulty()` wrapper), and a way to make that
 * wrapper fail every put after the first N, as a full disk would.
 */

import { contextFromPlan, type OpsContext, resourceTypes } from '../../src/ops/context.js'
import { loadPlan } from '../../src/plan/index.js'
import type { Plan } from '../../src/plan/types.js'
import type { Backend } from '../../src/repository/backends/backend.js'
import type { FaultyBackend } from '../../src/repository/backends/wrap/faulty.js'
import { Repository } from '../../src/repository/index.js'

export function loadTestPlan(file: string): Promise<Plan> {
  return loadPlan(file, { resourceTypes })
}

/** The plan's context, with the repository opened (once, on first use) on `backend` instead of the plan's. */
export function contextOverBackend(plan: Plan, backend: Backend): OpsContext {
  const base = contextFromPlan(plan)
  let repository: Promise<Repository> | undefined
  return {
    plan,
    resource: (name) => base.resource(name),
    openSource: (name) => base.openSource(name),
    repository() {
      repository ??= Repository.open(backend)
      return repository
    },
    async close() {
      if (repository) await (await repository).close()
    },
  }
}

export interface PutLimit {
  /** The backend to use: puts go through the faulty wrapper. */
  backend: Backend
  /** From now on, let `n` more puts through, then make the faulty wrapper fail every later one with error(key). */
  failAfter(n: number, error: (key: string) => Error): void
  /** Lets every put through again. */
  heal(): void
}

/**
 * Counts puts on `faulty` and arms it (`failRate('put', 1, …)`) once `n` have gone through;
 * the failure itself comes from the faulty wrapper, before the put reaches the disk.
 */
export function limitPuts(faulty: FaultyBackend): PutLimit {
  let limit: { at: number; error: (key: string) => Error } | undefined
  return {
    failAfter(n, error) {
      limit = { at: faulty.counts.put + n, error }
    },
    heal() {
      limit = undefined
      faulty.failRate('put', 0)
    },
    backend: {
      kind: faulty.kind,
      location: faulty.location,
      put(key, body, opts) {
        if (limit && faulty.counts.put >= limit.at) faulty.failRate('put', 1, limit.error(key))
        return faulty.put(key, body, opts)
      },
      get: (key, opts) => faulty.get(key, opts),
      stat: (key) => faulty.stat(key),
      list: (prefix, opts) => faulty.list(prefix, opts),
      delete: (key) => faulty.delete(key),
      close: () => faulty.close(),
    },
  }
}
