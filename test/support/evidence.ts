import { join } from 'node:path'
import { openContext } from '../../src/ops/context.js'
import type { DrillEvidence } from '../../src/ops/evidence.js'

/**
 * Writes drill reports straight into a plan's repository, through the repository API, as
 * the drills room does after a drill: for tests of what reads them (status, report, alerts).
 */
export async function writeDrillEvidence(
  dir: string,
  records: { time: string; ok: boolean; body: DrillEvidence }[],
): Promise<void> {
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  try {
    const repository = await ctx.repository()
    for (const r of records)
      await repository.writeEvidence({ kind: 'drill', time: r.time, resource: r.body.resource, ok: r.ok, body: r.body })
  } finally {
    await ctx.close()
  }
}
