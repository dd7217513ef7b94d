import { NotFoundError, PlanError } from '../errors.js'
import type { Repository, SegmentRef, Snapshot } from '../repository/index.js'
import { shortId } from '../repository/index.js'
import type { PartSelector, StoredImage } from '../sources/index.js'
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
  /** Restore only these tables (databases), keys matching these patterns (Redis) or these paths (files). */
  tables?: string[]
  keys?: string[]
  paths?: string[]
  /** In the restored tables that have the columns it names, only the matching rows. */
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
  /** What was written, in the source's own units (files, keys, ...), when it counts them. */
  counts?: Record<string, number>
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
  const part = checkPart(req)
  const repository = await ctx.repository()
  const started = performance.now()
  const point = await resolve(repository, req)
  const snapshot = await repository.findSnapshot(req.resource, point.snapshot)
  const source = await ctx.openSource(req.resource)
  const selector = source.capabilities.partialRestore
  if ((part || req.where !== undefined) && selector !== (part?.by ?? 'tables')) {
    await source.close()
    const type = ctx.resource(req.resource).type
    throw new PlanError(
      selector
        ? `${req.resource} (type ${type}) restores part of itself by --${selector}, not --${part?.by ?? 'where'}`
        : `${req.resource} (type ${type}) cannot restore part of itself`,
      selector ? `Use --${selector}.` : 'Restore it whole.',
    )
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
    // One reader for every stream: the index is loaded once, not once per stream (a files
    // snapshot has a stream per file), and the read lock keeps it valid meanwhile.
    const reader = await repository.blobReader()
    const image: StoredImage = {
      details: snapshot.details,
      streams: (async function* () {
        for (const ref of snapshot.streams) yield { name: ref.name, data: reader.readStream(ref, context) }
      })(),
    }
    const from = snapshot.position.seq ?? 0
    const counter = { changes: 0 }
    const replay = point.untilSeq !== undefined && point.untilSeq > from
    const range = { resource: req.resource, generation: point.generation, segments: point.segments }
    const changes = replay
      ? readChanges(repository, { ...range, after: from, until: point.untilSeq! }, counter)
      : undefined
    const { force, where, format, signal } = req
    const result = await source.restore(image, req.target, {
      force,
      tables: part?.names,
      where,
      format,
      signal,
      changes,
    })
    return {
      resource: req.resource,
      snapshot,
      target: result.target,
      bytes: result.bytes,
      time: new Date(point.time).toISOString(),
      changes: counter.changes,
      exact: point.exact,
      durationMs: Math.round(performance.now() - started),
      ...(result.counts && { counts: result.counts }),
    }
  } finally {
    await lock.release()
    await source.close()
  }
}

const partNames: Record<PartSelector, { one: string; example: string }> = {
  tables: { one: 'a table name', example: '--tables users,orders' },
  keys: { one: 'a key pattern', example: "--keys 'session:*,rate:*'" },
  paths: { one: 'a path pattern', example: "--paths 'docs/**,*.pdf'" },
}

/**
 * Which part to restore (at most one of --tables, --keys, --paths) and what can be told
 * wrong about it and --where before anything is read; the source checks the rest.
 */
function checkPart(req: RestoreRequest): { by: PartSelector; names: string[] } | undefined {
  const given = (['tables', 'keys', 'paths'] as const).filter((by) => req[by] !== undefined)
  if (given.length > 1) throw new PlanError(`give only one of ${given.map((by) => `--${by}`).join(' and ')}`)
  const by = given[0]
  const names = by && req[by]
  if (by && names && (names.length === 0 || names.some((t) => t.trim() === ''))) {
    throw new PlanError(
      `--${by}: ${partNames[by].one} is empty`,
      `Separate them with commas: ${partNames[by].example}.`,
    )
  }
  if (req.where !== undefined && req.where.trim() === '') {
    throw new PlanError(
      '--where: the condition is empty',
      'Give an SQL condition such as --where "tenant_id = \'acme\'".',
    )
  }
  return by && names ? { by, names } : undefined
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
