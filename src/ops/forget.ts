import { keys } from '../repository/format.js'
import { type PruneResult, prune } from '../repository/prune.js'
import { planForget, type RetentionDecision } from '../retention/index.js'
import type { OpsContext } from './context.js'
import { readTimelineFrom } from './timeline.js'

export interface ForgetOptions {
  /** One resource; every resource of the plan when absent. */
  resource?: string
  /** These resources (the agent's, whose retention schedule is due); ignored with `resource`. */
  resources?: string[]
  /** Decide and report only: nothing is deleted or written. */
  dryRun?: boolean
  /** The moment retention is applied at (ms since the epoch); now by default. */
  now?: number
  /** How long the delete phase waits for backups and restores in flight. */
  waitMs?: number
  /** The share of the repository (0 to 1, default 0.05) that may stay unused rather than be repacked. */
  maxUnused?: number
}

export interface ResourceForget {
  resource: string
  /** Every snapshot, newest first, with the decision and its reasons. */
  snapshots: (Omit<RetentionDecision, 'time'> & { time: string })[]
  segmentsForgotten: number
  /** Where point-in-time restore starts after this; absent when the policy sets no `pitr`. */
  windowStart?: string
  /** Bookmarks this forget makes unrestorable (their records stay, naming the moment). */
  lostBookmarks: string[]
}

export interface ForgetResult {
  dryRun: boolean
  resources: ResourceForget[]
  prune: PruneResult
  durationMs: number
}

/**
 * Applies each resource's retention policy: decides purely what to keep (with reasons),
 * then deletes the forgotten snapshots and segments and prunes the data nothing
 * references any more (repository/prune.ts), safely while backups and agents run.
 * Snapshots of resources that are not in the plan are kept.
 */
export async function forget(ctx: OpsContext, opts: ForgetOptions = {}): Promise<ForgetResult> {
  const started = performance.now()
  const names = opts.resource
    ? [ctx.resource(opts.resource).name]
    : (opts.resources?.map((r) => ctx.resource(r).name) ?? Object.keys(ctx.plan.resources))
  const repository = await ctx.repository()
  const now = opts.now ?? Date.now()
  const resources: ResourceForget[] = []
  const snapshotKeys: string[] = []
  const segmentKeys: string[] = []
  for (const name of names) {
    const { timeline, bookmarks, segments } = await readTimelineFrom(repository, name)
    const plan = planForget({
      snapshots: [...timeline.plainSnapshots, ...timeline.generations.flatMap((g) => g.snapshots)],
      segments,
      heads: new Map(timeline.generations.flatMap((g) => (g.head ? [[g.id, g.head]] : []))),
      bookmarks,
      policy: ctx.resource(name).retention,
      now,
    })
    for (const s of plan.snapshots) if (!s.keep) snapshotKeys.push(keys.snapshot(name, s.id))
    for (const key of plan.segments) segmentKeys.push(key)
    resources.push({
      resource: name,
      snapshots: plan.snapshots.map((s) => ({ ...s, time: new Date(s.time).toISOString() })),
      segmentsForgotten: plan.segments.length,
      windowStart: plan.windowStart === undefined ? undefined : new Date(plan.windowStart).toISOString(),
      lostBookmarks: plan.lostBookmarks,
    })
  }
  const pruned = await prune(repository, {
    snapshots: snapshotKeys,
    segments: segmentKeys,
    dryRun: opts.dryRun,
    maxUnused: opts.maxUnused,
    lock: opts.waitMs === undefined ? undefined : { waitMs: opts.waitMs },
  })
  return {
    dryRun: opts.dryRun === true,
    resources,
    prune: pruned,
    durationMs: Math.round(performance.now() - started),
  }
}
