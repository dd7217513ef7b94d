import { isStale, type LockInfo, listLocks } from '../repository/lock.js'
import type { OpsContext } from './context.js'

export interface UnlockedLock extends LockInfo {
  key: string
  stale: boolean
}

export interface UnlockResult {
  removed: UnlockedLock[]
  /** Live locks left in place (all of them are removed with `all`). */
  kept: UnlockedLock[]
}

/**
 * Removes stale locks: those whose process is gone (same host) or whose heartbeat is old.
 * A live owner's lock stays unless `all`, which removes every lock and says which.
 */
export async function unlock(ctx: OpsContext, opts: { all?: boolean } = {}): Promise<UnlockResult> {
  const repository = await ctx.repository()
  const result: UnlockResult = { removed: [], kept: [] }
  for (const { key, info } of await listLocks(repository.backend)) {
    const lock = { ...info, key, stale: isStale(info) }
    if (!lock.stale && !opts.all) {
      result.kept.push(lock)
      continue
    }
    await repository.backend.delete(key)
    result.removed.push(lock)
  }
  return result
}
