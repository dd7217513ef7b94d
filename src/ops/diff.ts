import { OutsideWindowError, PlanError } from '../errors.js'
import type { Boundary, Change } from '../model.js'
import type { SegmentRef } from '../repository/index.js'
import type { LiveRows, Source } from '../sources/index.js'
import { type NetChange, netChanges, resolvePoint } from '../timeline/index.js'
import { readChanges } from './changes.js'
import type { OpsContext } from './context.js'
import { completeImages } from './rebuild.js'
import { readTimelineFrom } from './timeline.js'

export interface DiffRequest {
  resource: string
  /** The window's start and end (ms since the epoch): each the state of the last proven boundary at or before it. */
  from: number
  to: number
  /** Only these tables. */
  tables?: string[]
  /** Only rows whose state at `from` or at `to` matches this SQL condition, in every table that has its columns. */
  where?: string
}

export interface DiffResult {
  resource: string
  generation: string
  /** The proven boundaries the window runs between: `before` images are the state at the first, `after` at the second. */
  from: Boundary
  to: Boundary
  /** Every row whose state differs between the two, grouped by table. */
  rows: NetChange[]
  /** Tables `where` could not apply to, lacking a column it names: every changed row of theirs is in `rows`. */
  unfiltered: string[]
  /** Tables changed in the window that the database no longer has: left out. */
  dropped: string[]
}

/** Lists the rows that changed between two moments, with their state at each (see DiffResult). */
export async function diff(ctx: OpsContext, req: DiffRequest): Promise<DiffResult> {
  const source = await openRowSource(ctx, req.resource, 'diff')
  try {
    return await readWindow(ctx, source.rows!, req)
  } finally {
    await source.close()
  }
}

/** Opens a resource that captures changes and can read rows by identity; PlanError otherwise. */
export async function openRowSource(ctx: OpsContext, resource: string, command: string): Promise<Source> {
  if (!ctx.resource(resource).capture) {
    throw new PlanError(
      `${resource} has no capture in the plan, so drkit knows no row changes to ${command}`,
      `Add \`capture: { interval: 1s }\` to ${resource} in the plan and run \`drkit agent\`.`,
    )
  }
  const source = await ctx.openSource(resource)
  if (!source.rows) {
    await source.close()
    throw new PlanError(`${resource} (type ${ctx.resource(resource).type}) cannot ${command} rows`)
  }
  return source
}

/**
 * Resolves both moments to proven boundaries of one generation, reads the changes in
 * between from the repository and nets them per row, completing partial images (PostgreSQL's)
 * from the snapshot before the window; then narrows to `tables` and `where`.
 */
export async function readWindow(ctx: OpsContext, rows: LiveRows, req: DiffRequest): Promise<DiffResult> {
  const iso = (ms: number) => new Date(ms).toISOString()
  if (req.from > req.to) {
    throw new PlanError(`--from ${iso(req.from)} is after --to ${iso(req.to)}`, 'Give the earlier moment as --from.')
  }
  const repository = await ctx.repository()
  const { timeline } = await readTimelineFrom(repository, req.resource)
  const boundariesOf = async (seg: unknown) => (await repository.readSegment(seg as SegmentRef)).boundaries
  const start = await resolvePoint(timeline, { at: req.from }, boundariesOf)
  const end = await resolvePoint(timeline, { at: req.to }, boundariesOf)
  const g = timeline.generations.find((x) => x.id === end.generation)
  if (!g || start.generation !== end.generation) {
    throw new OutsideWindowError(
      `${iso(req.from)} – ${iso(req.to)} is not one stretch of captured changes of ${req.resource}: ` +
        (g ? `generation ${g.id} (after a schema change or a capture restart) began inside it` : 'none covers it'),
      'Diff and undo work within one generation: see `drkit timeline`.',
    )
  }
  const live = await rows.tables()
  const names = new Set(live.map((t) => t.name))
  const scope = new Set(pickTables(req.resource, [...names], req.tables))
  const dropped = new Set<string>()
  const wanted = (c: Change) => {
    if (!names.has(c.table) && !req.tables) dropped.add(c.table)
    return scope.has(c.table)
  }
  const from = { seq: start.untilSeq!, time: start.time }
  const to = { seq: end.untilSeq!, time: end.time }
  const lock = await repository.lock(req.resource, 'read', { command: `diff ${req.resource}` })
  let net: NetChange[]
  try {
    const range = { resource: req.resource, generation: g.id, segments: g.segments, after: from.seq, until: to.seq }
    const changes = readChanges(repository, range)
    const keys = new Map(live.map((t) => [t.name, t.key]))
    const netted = await netChanges(filter(changes, wanted), keys, {
      columns: new Map(live.map((t) => [t.name, t.columns])),
    })
    const span = { resource: req.resource, generation: g.id, segments: g.segments, snapshot: start.snapshot, from, to }
    net = await completeImages(repository, rows, live, netted, span)
  } finally {
    await lock.release()
  }
  const result = { resource: req.resource, generation: g.id, from, to, unfiltered: [], dropped: [...dropped].sort() }
  if (req.where === undefined) return { ...result, rows: net }
  // A row is kept when its state at either end matches.
  const images = net.flatMap((n, i) => [n.before, n.after].flatMap((row) => (row ? [{ table: n.table, row, i }] : [])))
  const { matches, unfiltered } = await rows.match(req.where, [...scope], images)
  const kept = new Set(images.filter((_, j) => matches[j]).map((image) => image.i))
  return { ...result, rows: net.filter((_, i) => kept.has(i)), unfiltered }
}

/** The tables named (SQLite's names are case-insensitive), or all. */
function pickTables(resource: string, live: string[], wanted: string[] | undefined): string[] {
  if (!wanted) return live
  const byName = new Map(live.map((t) => [t.toLowerCase(), t]))
  const unknown = wanted.filter((t) => !byName.has(t.toLowerCase()))
  if (unknown.length > 0) {
    throw new PlanError(`${resource} has no table ${unknown.join(', ')}`, `Its tables: ${live.join(', ')}.`)
  }
  return wanted.map((t) => byName.get(t.toLowerCase())!)
}

async function* filter(changes: AsyncIterable<Change>, keep: (c: Change) => boolean): AsyncIterable<Change> {
  for await (const c of changes) if (keep(c)) yield c
}
