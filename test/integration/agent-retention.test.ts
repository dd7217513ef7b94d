/**
 * The agent applies `retention.schedule`: `--once` applies the retention that is due and
 * records it as evidence, and not again before the next scheduled time; running on, it
 * forgets and prunes while it ships captured changes and a backup runs beside it, and every
 * kept snapshot and the latest state still restore exactly.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { contextFromPlan } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { verify } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { Repository } from '../../src/repository/index.js'
import { type AgentEvent, runAgent } from '../../src/scheduler/agent.js'
import type { RetentionEvidence } from '../../src/scheduler/retention.js'
import { sqlitePlan } from '../support/cli.js'
import { loadTestPlan } from '../support/fault-context.js'
import { createDb, fingerprint, mutateDb, seededRandom } from '../support/fault-db.js'
import { waitFor } from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

async function setup(retention: string, extra = '') {
  const dir = await tempDir('drkit-agent-retention-')
  const db = join(dir, 'app.db')
  createDb(db, { seed: 9, sizeMiB: 2 })
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan(`${extra}    retention: ${retention}\n`))
  await Repository.init(await openFsBackend(join(dir, 'repo'), { create: true }), { packSize: 128 * 1024 })
  const plan = await loadTestPlan(join(dir, 'drkit.yaml'))
  return { dir, db, plan }
}

describe('the agent applies retention on its schedule', () => {
  it('--once applies the due retention, records it, and waits for the next scheduled time', async () => {
    const { db, plan } = await setup('{ last: 1, schedule: "0 3 * * *" }')
    const ctx = contextFromPlan(plan)
    const rng = seededRandom(1)
    for (let i = 0; i < 3; i++) {
      mutateDb(db, rng, `change ${i}`)
      await backup(ctx, 'app-db')
    }
    const events: AgentEvent[] = []
    await runAgent(ctx, { once: true, onEvent: (e) => events.push(e) })
    expect(events.find((e) => e.event === 'retention.applied')?.message).toMatch(/2 snapshots .* forgotten/)
    const repository = await ctx.repository()
    expect(await repository.listSnapshots('app-db')).toHaveLength(1)
    const records = await repository.listEvidence<RetentionEvidence>('retention')
    expect(records).toMatchObject([{ ok: true, body: { resources: ['app-db'], snapshotsForgotten: 2 } }])

    // Ran at the last scheduled time's side: not due again before tomorrow 03:00.
    await backup(ctx, 'app-db')
    const again: AgentEvent[] = []
    await runAgent(contextFromPlan(plan), { once: true, onEvent: (e) => again.push(e) })
    expect(again.map((e) => e.event)).not.toContain('retention.applied')
    expect(await repository.listSnapshots('app-db')).toHaveLength(2)
    expect(await repository.listEvidence('retention')).toHaveLength(1)
    await ctx.close()
  })

  it('prunes while it ships changes and a backup runs beside it; what is kept restores', {
    timeout: 120_000,
  }, async () => {
    const { dir, db, plan } = await setup(
      '{ last: 2, pitr: 1h, schedule: "* * * * *" }',
      '    capture: { interval: 100ms }\n',
    )
    const setupCtx = contextFromPlan(plan)
    const rng = seededRandom(2)
    for (let i = 0; i < 4; i++) {
      mutateDb(db, rng, `before ${i}`, { share: 0.3 })
      await backup(setupCtx, 'app-db')
    }
    await setupCtx.close()

    const abort = new AbortController()
    const events: AgentEvent[] = []
    const agentCtx = contextFromPlan(plan)
    const agent = runAgent(agentCtx, { signal: abort.signal, onEvent: (e) => events.push(e), checkEveryMs: 50 })
    await waitFor('the agent to start', () => events.find((e) => e.event === 'agent.started'))
    // Writes keep coming, and a backup runs beside the agent, while it forgets and prunes.
    const other = contextFromPlan(plan)
    let writes = 0
    const writer = (async () => {
      while (!abort.signal.aborted) {
        try {
          mutateDb(db, rng, `during ${writes}`, { share: 0.02 })
          writes++
        } catch (err) {
          // A snapshot being taken holds the database for a moment: write again after it.
          if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
        }
        await new Promise((r) => setTimeout(r, 30))
      }
    })()
    const beside = backup(other, 'app-db', { waitMs: 60_000 })
    await waitFor('the agent to apply retention', () =>
      events.find((e) => e.event === 'retention.applied' || e.event === 'retention.failed'),
    )
    await beside
    const shippedAfter = events.length
    await waitFor('a shipment after the prune', () =>
      events.slice(shippedAfter).find((e) => e.event === 'capture.shipped'),
    )
    abort.abort()
    await Promise.all([agent, writer])
    await other.close()
    await agentCtx.close()
    expect(events.map((e) => e.event)).not.toContain('retention.failed')
    expect(writes).toBeGreaterThan(0)

    const check = contextFromPlan(plan)
    const result = await verify(check, { readData: true })
    expect(result.problems).toEqual([])
    const snapshots = await (await check.repository()).listSnapshots('app-db')
    expect(snapshots.length).toBeGreaterThanOrEqual(2)
    expect(snapshots.length).toBeLessThan(5)
    // The latest state (the last snapshot and every change shipped after it) restores exactly.
    const target = join(dir, 'latest.db')
    await restore(check, { resource: 'app-db', target })
    expect(fingerprint(target)).toEqual(fingerprint(db))
    await check.close()
  })
})
