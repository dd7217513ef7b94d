import { NotFoundError, PlanError } from '../errors.js'
import type { Repository, SegmentRef, Snapshot } from '../repository/index.js'
import { shortId } from '../repository/index.js'
import type { StoredImage } from '../sources/index.js'
import { type PointRequest, type RestorePoint, resolvePoint } from '../timeline/index.js'
import { readChanges } from './changes.js'
import type { OpsContext } from './context.js'
import { readTimelineFrom } from './timeline.js'

export interface RestoreRequest {
  resource: string
  /** Where to write: a file path for SQLite (relative to the plan's folder). */
  target: string
  /** At most one of: a snapshot id or unique prefix, a moment (ms since the epoch), a bookmark name. */
  snapshot?: string
  at?: number
  bookmark?: string
  force?: boolean
  /** Restore only these tables; and, in the restored tables that have the columns it names, only matching rows. */
  tables?: string[]
  where?: string
  /** Write a file in this format (a plain SQL script for PostgreSQL) instead of a live target. */
  format?: 'sql'
  signal?: AbortSignal
}

export interface RestoreResult {
  resource: string
  snapshot: Snapshot
  target: string
  bytes: number
  /** The moment the restored state is proven for, and the changes replayed on top of the snapshot. */
  time: string
  changes: number
  /** False when no capture could give the exact moment and the nearest earlier snapshot stands in. */
  exact: boolean
  durationMs: number
}

/**
 * Restores a resource: resolves the snapshot, moment or bookmark to a restore point,
 * reads the snapshot back and hands it, with the changes after it, to the source.
 */
export async function restore(ctx: OpsContext, req: RestoreRequest): Promise<RestoreResult> {
  ctx.resource(req.resource)
  if ([req.snapshot, req.at, req.bookmark].filter((x) => x !== undefined).length > 1) {
    throw new PlanError('give at most one of --snapshot, --at and --bookmark')
  }
  checkPart(req)
  const repository = await ctx.repository()
  const started = performance.now()
  const point = await resolve(repository, req)
  const snapshot = await repository.findSnapshot(req.resource, point.snapshot)
  const source = await ctx.openSource(req.resource)
  if ((req.tables !== undefined || req.where !== undefined) && !source.capabilities.partialRestore) {
    await source.close()
    throw new PlanError(`${req.resource} (type ${ctx.resource(req.resource).type}) cannot restore part of itself`)
  }
  if (req.format !== undefined && !source.capabilities.formats?.includes(req.format)) {
    await source.close()
    throw new PlanError(
      `${req.resource} (type ${ctx.resource(req.resource).type}) cannot restore as --format ${req.format}`,
    )
  }
  // A read lock keeps pruning out while the snapshot's data is read.
  const lock = await repository.lock(req.resource, 'read', { command: `restore ${req.resource}` })
  try {
    const context = `snapshot ${shortId(snapshot.id)} of ${req.resource}`
    const image: StoredImage = {
      details: snapshot.details,
      streams: (async function* () {
        for (const ref of snapshot.streams) yield { name: ref.name, data: repository.readStream(ref, context) }
      })(),
    }
    const from = snapshot.position.seq ?? 0
    const counter = { changes: 0 }
    const replay = point.untilSeq !== undefined && point.untilSeq > from
    const range = { resource: req.resource, generation: point.generation, segments: point.segments }
    const changes = replay
      ? readChanges(repository, { ...range, after: from, until: point.untilSeq! }, counter)
      : undefined
    const { force, tables, where, format, signal } = req
    const result = await source.restore(image, req.target, { force, tables, where, format, signal, changes })
    return {
      resource: req.resource,
      snapshot,
      target: result.target,
      bytes: result.bytes,
      time: new Date(point.time).toISOString(),
      changes: counter.changes,
      exact: point.exact,
      durationMs: Math.round(performance.now() - started),
    }
  } finally {
    await lock.release()
    await source.close()
  }
}

/** What can be told wrong about --tables and --where before anything is read; the source checks the rest. */
function checkPart(req: RestoreRequest): void {
  if (req.tables !== undefined && (req.tables.length === 0 || req.tables.some((t) => t.trim() === ''))) {
    throw new PlanError('--tables: a table name is empty', 'Name tables separated by commas: --tables users,orders.')
  }
  if (req.where !== undefined && req.where.trim() === '') {
    throw new PlanError(
      '--where: the condition is empty',
      'Give an SQL condition such as --where "tenant_id = \'acme\'".',
    )
  }
}

async function resolve(repository: Repository, req: RestoreRequest): Promise<RestorePoint> {
  const { timeline, bookmarks } = await readTimelineFrom(repository, req.resource)
  let request: PointRequest
  if (req.bookmark !== undefined) {
    const bookmark = bookmarks.find((b) => b.name === req.bookmark)
    if (!bookmark) {
      const known = bookmarks.map((b) => b.name)
      throw new NotFoundError(
        `${req.resource} has no bookmark "${req.bookmark}"`,
        known.length > 0 ? `Known bookmarks: ${known.join(', ')}.` : 'Set one with `drkit bookmark`.',
      )
    }
    request = { bookmark }
  } else if (req.at !== undefined) {
    request = { at: req.at }
  } else if (req.snapshot === undefined && timeline.generations.length > 0 && timeline.window.length > 0) {
    // With capture, "the latest" is the newest recoverable moment, not the newest snapshot.
    request = { at: Math.max(...timeline.window.map((r) => r.to)) }
  } else {
    request = { snapshot: (await repository.findSnapshot(req.resource, req.snapshot)).id }
  }
  // Timeline segment points are the repository's segment refs, handed through unchanged.
  return resolvePoint(timeline, request, async (seg) => (await repository.readSegment(seg as SegmentRef)).boundaries)
}
