import type { Snapshot } from '../repository/index.js'
import { shortId } from '../repository/index.js'
import type { StoredImage } from '../sources/index.js'
import type { OpsContext } from './context.js'

export interface RestoreRequest {
  resource: string
  /** Where to write: a file path for SQLite, relative to the plan's folder. */
  target: string
  /** A snapshot id or unique prefix; the latest by default. */
  snapshot?: string
  force?: boolean
  signal?: AbortSignal
}

export interface RestoreResult {
  resource: string
  snapshot: Snapshot
  target: string
  bytes: number
  durationMs: number
}

/** Reads a snapshot back from the repository and hands it to the source to write into the target. */
export async function restore(ctx: OpsContext, req: RestoreRequest): Promise<RestoreResult> {
  ctx.resource(req.resource)
  const repository = await ctx.repository()
  const snapshot = await repository.findSnapshot(req.resource, req.snapshot)
  const source = await ctx.openSource(req.resource)
  // A read lock keeps pruning out while the snapshot's data is read.
  const lock = await repository.lock(req.resource, 'read', { command: `restore ${req.resource}` })
  try {
    const started = performance.now()
    const context = `snapshot ${shortId(snapshot.id)} of ${req.resource}`
    const image: StoredImage = {
      details: snapshot.details,
      streams: (async function* () {
        for (const ref of snapshot.streams) yield { name: ref.name, data: repository.readStream(ref, context) }
      })(),
    }
    const result = await source.restore(image, req.target, { force: req.force, signal: req.signal })
    return {
      resource: req.resource,
      snapshot,
      target: result.target,
      bytes: result.bytes,
      durationMs: Math.round(performance.now() - started),
    }
  } finally {
    await lock.release()
    await source.close()
  }
}
