import type { Bookmark, Repository, SegmentRef } from '../repository/index.js'
import type { CaptureLag } from '../sources/index.js'
import { buildTimeline, type Timeline } from '../timeline/index.js'
import type { OpsContext } from './context.js'

export interface TimelineResult {
  timeline: Timeline
  bookmarks: Bookmark[]
  segments: SegmentRef[]
}

/** Reads a resource's snapshots, segments, heads and bookmarks, and builds its timeline. */
export async function readTimeline(ctx: OpsContext, resource: string): Promise<TimelineResult> {
  ctx.resource(resource)
  const repository = await ctx.repository()
  return readTimelineFrom(repository, resource)
}

export async function readTimelineFrom(repository: Repository, resource: string): Promise<TimelineResult> {
  const [snapshots, segments, heads, bookmarks] = await Promise.all([
    repository.listSnapshots(resource),
    repository.listSegments(resource),
    repository.readHeads(resource),
    repository.listBookmarks(resource),
  ])
  const timeline = buildTimeline({
    resource,
    snapshots: snapshots.map((s) => ({
      id: s.id,
      time: Date.parse(s.position.time),
      seq: s.position.seq,
      generation: s.position.generation,
    })),
    segments,
    heads,
  })
  return { timeline, bookmarks, segments }
}

/**
 * How far the live resource's capture lags, where the source can tell. Undefined when it
 * cannot, when capture is not installed, or when the resource cannot be reached: the
 * timeline itself comes from the repository and stays readable while the resource is down.
 */
export async function captureLag(ctx: OpsContext, resource: string): Promise<CaptureLag | undefined> {
  const source = await ctx.openSource(resource)
  try {
    const capture = source.capabilities.capture ? source.capture : undefined
    return await capture?.lag?.()
  } catch {
    return undefined
  } finally {
    await source.close()
  }
}
