import type { Snapshot } from '../repository/index.js'
import type { OpsContext } from './context.js'

/** Snapshots of one resource, or of every resource, oldest first. */
export async function listSnapshots(ctx: OpsContext, resource?: string): Promise<Snapshot[]> {
  if (resource) ctx.resource(resource)
  return (await ctx.repository()).listSnapshots(resource)
}
