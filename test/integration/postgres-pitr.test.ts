/**
 * Point in time for PostgreSQL against the real server: an agent captures through logical
 * decoding while several connections commit concurrent transactions (inserts, updates,
 * deletes, a table without a primary key, TOASTed values left unchanged by updates,
 * truncates); fingerprints recorded at quiet moments must come back exactly from
 * `restore --at` those moments, and bookmarks from theirs. Snapshots taken while the
 * workload commits give the restores several starting points.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { bookmark } from '../../src/ops/bookmark.js'
import { createRepository, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { type AgentEvent, runAgent } from '../../src/scheduler/agent.js'
import type { Fingerprint } from '../../src/sources/source.js'
import { runCli, startCli } from '../support/cli.js'
import { seededRandom } from '../support/fault-db.js'
import { fingerprintOf, pgClient, pgUrl, testDatabase, throwawayName, writePgPlan } from '../support/postgres.js'
import { tempDir } from '../support/tmp.js'

const seed = Number(process.env.DRKIT_TEST_SEED ?? 20261122)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const schema = `
  CREATE TABLE accounts (id serial PRIMARY KEY, tenant text NOT NULL, balance numeric(20, 4) NOT NULL, note text);
  CREATE TABLE events (account integer, kind text, payload jsonb);
  CREATE TABLE docs (id integer PRIMARY KEY, version integer NOT NULL, body text);
`

type Rng = ReturnType<typeof seededRandom>

/** One random transaction of a few statements. */
function transaction(rng: Rng, big: () => string): string[] {
  const stmts: string[] = []
  const n = 1 + rng.int(4)
  for (let i = 0; i < n; i++) {
    const r = rng.next()
    const id = 1 + rng.int(60)
    if (r < 0.3) {
      stmts.push(
        `INSERT INTO accounts (tenant, balance, note) VALUES ('${rng.next() < 0.5 ? 'acme' : 'globex'}', ${rng.int(100000) / 100}, ${rng.next() < 0.2 ? 'NULL' : "''"})`,
      )
    } else if (r < 0.5) {
      stmts.push(
        `UPDATE accounts SET balance = balance + ${rng.int(1000) / 100}, note = 'n${rng.int(9)}' WHERE id = ${id}`,
      )
    } else if (r < 0.6) {
      stmts.push(`DELETE FROM accounts WHERE id = ${id}`)
    } else if (r < 0.75) {
      stmts.push(`INSERT INTO events VALUES (${id}, 'k${rng.int(3)}', '{"v": ${rng.int(1000)}, "s": "é"}')`)
    } else if (r < 0.82) {
      stmts.push(`UPDATE events SET kind = 'changed' WHERE account = ${id}`)
    } else if (r < 0.87) {
      stmts.push(`DELETE FROM events WHERE account = ${id}`)
    } else if (r < 0.95) {
      // Only the version changes: the TOASTed body is not sent, and must survive.
      stmts.push(`UPDATE docs SET version = version + 1 WHERE id = ${1 + rng.int(5)}`)
    } else if (r < 0.99) {
      stmts.push(`UPDATE docs SET body = '${big()}' WHERE id = ${1 + rng.int(5)}`)
    } else {
      stmts.push('TRUNCATE events')
    }
  }
  return stmts
}

describe('postgres point-in-time restore', () => {
  it('restores every quiet moment and bookmark exactly, with TOASTed values and a table without a key', {
    timeout: 240_000,
  }, async () => {
    const why = `(seed ${seed}; rerun with DRKIT_TEST_SEED=${seed})`
    const rng = seededRandom(seed)
    // Incompressible text, so the body is stored out of line (TOAST).
    const big = () => randomBytes(60_000).toString('base64')
    const src = await testDatabase()
    await src.client.query(schema)
    for (let i = 1; i <= 5; i++) await src.client.query(`INSERT INTO docs VALUES (${i}, 0, '${big()}')`)
    const dir = await tempDir('drkit-pg-pitr-')
    await writePgPlan(dir, src.url, '    capture: { interval: 200ms }\n')
    const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
    onTestFinished(() => ctx.close())
    await (await createRepository(ctx.plan)).close()

    const events: AgentEvent[] = []
    const stop = new AbortController()
    let markStarted: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      markStarted = resolve
    })
    const agent = runAgent(ctx, {
      signal: stop.signal,
      onEvent: (e) => {
        events.push(e)
        if (e.event === 'agent.started') markStarted()
      },
    })
    onTestFinished(async () => {
      stop.abort()
      await agent.catch(() => undefined)
    })
    await Promise.race([started, agent])
    expect(events.map((e) => e.message).join('\n')).toMatch(/events has no primary key.*REPLICA IDENTITY FULL/)

    const writers = await Promise.all([1, 2, 3].map(() => pgClient(src.name)))
    onTestFinished(async () => {
      await Promise.all(writers.map((w) => w.end()))
    })
    const quiet: { at: number; print: Fingerprint }[] = []
    const marks: { name: string; print: Fingerprint }[] = []
    for (let round = 0; round < 10; round++) {
      const backup = round % 4 === 1 ? runCli(['backup', 'main'], { cwd: dir }) : undefined
      await Promise.all(
        writers.map(async (w) => {
          const count = 2 + rng.int(12)
          for (let i = 0; i < count; i++) {
            await w.query('BEGIN')
            for (const s of transaction(rng, big)) await w.query(s)
            await w.query('COMMIT')
          }
        }),
      )
      const backedUp = await backup
      if (backedUp) expect(backedUp.code, `${backedUp.stderr} ${why}`).toBe(0)
      await sleep(300)
      const at = Date.now()
      const print = await fingerprintOf(src.name)
      quiet.push({ at, print })
      if (round % 4 === 2) {
        const name = `mark-${round}`
        await bookmark(ctx, 'main', name)
        marks.push({ name, print })
      }
      await sleep(300)
    }
    stop.abort()
    await agent
    expect(events.filter((e) => e.event === 'capture.gap' || e.event === 'capture.generation')).toEqual([])

    const snapshots = new Set<string>()
    let replayed = 0
    for (const q of quiet) {
      const target = throwawayName()
      const result = await restore(ctx, { resource: 'main', target: pgUrl(target), at: q.at })
      expect(result.exact).toBe(true)
      snapshots.add(result.snapshot.id)
      replayed += result.changes
      expect(await fingerprintOf(target), `restore at ${new Date(q.at).toISOString()} ${why}`).toEqual(q.print)
    }
    // The restores started from several snapshots and replayed captured changes on top of them.
    expect(snapshots.size).toBeGreaterThan(1)
    expect(replayed).toBeGreaterThan(100)
    for (const m of marks) {
      const target = throwawayName()
      await restore(ctx, { resource: 'main', target: pgUrl(target), bookmark: m.name })
      expect(await fingerprintOf(target), `bookmark ${m.name} ${why}`).toEqual(m.print)
    }
  })

  it('an agent killed with SIGKILL mid-stream and restarted loses and doubles nothing', {
    timeout: 180_000,
  }, async () => {
    const rng = seededRandom(seed ^ 0x9e37)
    const src = await testDatabase()
    await src.client.query(schema)
    const dir = await tempDir('drkit-pg-crash-')
    await writePgPlan(dir, src.url, '    capture: { interval: 50ms }\n')
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
    const writer = await pgClient(src.name)
    onTestFinished(() => writer.end())
    const work = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await writer.query('BEGIN')
        for (const s of transaction(rng, () => 'x'.repeat(10))) await writer.query(s)
        await writer.query('COMMIT')
      }
    }
    for (let round = 0; round < 3; round++) {
      const agent = startCli(['agent'], { cwd: dir })
      onTestFinished(() => {
        agent.child.kill('SIGKILL')
      })
      await work(80)
      await sleep(100 + rng.int(200))
      agent.child.kill('SIGKILL')
      await agent.done
    }
    await work(30)
    const once = await runCli(['agent', '--once'], { cwd: dir })
    expect(once.code, once.stderr).toBe(0)
    const target = throwawayName()
    const run = await runCli(['restore', 'main', '--to', pgUrl(target), '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json<{ exact: boolean }>().exact).toBe(true)
    expect(await fingerprintOf(target)).toEqual(await fingerprintOf(src.name))
  })
})
