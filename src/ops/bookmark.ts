import { DrkitError, LockedError, PlanError } from '../errors.js'
import type { Boundary } from '../model.js'
import { type Bookmark, checkBookmarkName } from '../repository/index.js'
import { CaptureShipper } from './capture.js'
import type { OpsContext } from './context.js'

export interface BookmarkOptions {
  /** How long to wait for a running agent to ship up to the bookmark. */
  waitMs?: number
}

/**
 * Names the current position of a resource. The position is a boundary proven now; the
 * bookmark is written only once every change up to it is stored: shipped here when no
 * agent runs (installing capture first if needed), or by the running agent, which this
 * waits for.
 */
export async function bookmark(
  ctx: OpsContext,
  resource: string,
  name: string,
  opts: BookmarkOptions = {},
): Promise<Bookmark> {
  if (!ctx.resource(resource).capture) {
    throw new PlanError(
      `${resource} has no capture in the plan, so it has no positions to bookmark`,
      `Add \`capture: { interval: 1s }\` to ${resource} in the plan.`,
    )
  }
  checkBookmarkName(name)
  let shipper: CaptureShipper | undefined
  try {
    shipper = await CaptureShipper.open(ctx, resource)
  } catch (err) {
    if (!(err instanceof LockedError)) throw err
  }
  let position: { generation: string; boundary: Boundary }
  if (shipper) {
    try {
      position = await shipper.position()
    } finally {
      await shipper.close()
    }
  } else {
    position = await currentPosition(ctx, resource)
    await waitForShipping(ctx, resource, position, opts.waitMs ?? 30_000)
  }
  const stored: Bookmark = {
    name,
    resource,
    generation: position.generation,
    seq: position.boundary.seq,
    time: position.boundary.time,
    created: new Date().toISOString(),
  }
  await (await ctx.repository()).writeBookmark(stored)
  return stored
}

async function currentPosition(ctx: OpsContext, resource: string) {
  const source = await ctx.openSource(resource)
  try {
    const position = await source.capture?.position()
    if (!position) throw new DrkitError(`capture is not installed in ${resource}`, 'Start `drkit agent`.')
    return position
  } finally {
    await source.close()
  }
}

async function waitForShipping(
  ctx: OpsContext,
  resource: string,
  { generation, boundary }: { generation: string; boundary: Boundary },
  waitMs: number,
) {
  const repository = await ctx.repository()
  const deadline = Date.now() + waitMs
  for (;;) {
    const heads = await repository.readHeads(resource)
    const segments = await repository.listSegments(resource, generation)
    const shipped = segments.reduce((m, s) => Math.max(m, s.last), heads.get(generation)?.seq ?? 0)
    if (shipped >= boundary.seq) return
    if (Date.now() > deadline) {
      throw new DrkitError(
        `the running agent has not shipped ${resource}'s changes up to the bookmark within ${Math.round(waitMs / 1000)} s`,
        'Check that the agent is healthy, then set the bookmark again.',
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
