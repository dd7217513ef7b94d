/**
 * Point in time against an oracle: a seeded workload (inserts, updates, deletes, multi-row
 * statements and transactions over a rowid table with INTEGER PRIMARY KEY, a rowid table
 * without a declared key and a WITHOUT ROWID table with a composite text key; BLOBs incl.
 * empty ones, integers beyond 2^53, REALs that need 17 digits, NULLs, unicode) commits from
 * a second process while the agent captures in this one. At quiet moments (no commit for
 * ~75 ms on either side) the test records the live fingerprint: `restore --at` that moment
 * must give exactly that state (DESIGN.md, "Point in time": the last proven boundary, and
 * the agent proves one every ~20 ms while it runs). Bookmarks set in quiet moments must
 * give theirs. Moments taken in the middle of the workload must restore to the state after
 * some whole transaction committed by then, never part of one and never a later one; the
 * oracle rebuilds the state after any transaction by playing the workload again. Snapshots
 * taken while the workload commits give the restores several starting points.
 */
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { bookmark } from '../../src/ops/bookmark.js'
import { createRepository, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { type AgentEvent, runAgent } from '../../src/scheduler/agent.js'
import { runCli } from '../support/cli.js'
import { seededRandom } from '../support/fault-db.js'
import {
  createWorkloadDb,
  type Fingerprint,
  iso,
  liveFingerprint,
  momentBeforeNextCommit,
  oracleFingerprints,
  sleep,
  startExecutor,
  targetFingerprint,
  txnOf,
  Workload,
  writePitrPlan,
} from '../support/pitr-workload.js'
import { tempDir } from '../support/tmp.js'

const seed = Number(process.env.DRKIT_TEST_SEED ?? 20260301)
const rounds = 24
/**
 * Half of each quiet period: no commit for this long before the recorded moment, nor after it.
 * Generous, so that the agent's 20 ms polls prove a boundary in it even on a loaded machine.
 */
const quietHalfMs = 250

interface QuietMoment {
  at: number
  n: number
  print: Fingerprint
}

interface BusyMoment {
  at: number
  /** The restored state must be after a transaction in [minN, maxN]. */
  minN: number
  maxN: number
}

interface Mark {
  name: string
  n: number
  print: Fingerprint
  via: 'ops' | 'cli'
}

describe('point-in-time restore against an oracle', () => {
  it('restores every quiet moment and bookmark exactly, and busy moments to whole transactions', {
    timeout: 150_000,
  }, async () => {
    const why = `(seed ${seed}; rerun with DRKIT_TEST_SEED=${seed})`
    const rng = seededRandom(seed ^ 0x5eed)
    const dir = await tempDir('drkit-pitr-oracle-')
    const app = join(dir, 'app.db')
    const workload = new Workload(seed)
    const initial = workload.initial()
    createWorkloadDb(app, workload, initial)
    const config = await writePitrPlan(dir, '200ms')
    const ctx = await openContext({ config })
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
    const exec = startExecutor(app)
    onTestFinished(() => exec.close())

    const quiet: QuietMoment[] = []
    const busy: BusyMoment[] = []
    const marks: Mark[] = []
    let committed = 0
    let lastQuiet = 0
    let backups = 0
    for (let round = 0; round < rounds; round++) {
      const burst = 3 + rng.int(40)
      // Now and then a snapshot taken while the workload commits: later moments start from it.
      const backup = round % 9 === 5 ? runCli(['backup', 'app-db'], { cwd: dir }) : undefined
      for (let i = 0; i < burst; i++) {
        const txn = workload.next({ large: rng.next() < 0.05 })
        if (rng.next() < 0.04) busy.push({ at: momentBeforeNextCommit(), minN: lastQuiet, maxN: committed })
        const done = exec.run(txn)
        // Taken while the transaction may still be open in the executor.
        if (rng.next() < 0.04) busy.push({ at: Date.now(), minN: lastQuiet, maxN: txn.n })
        await done
        committed = txn.n
        if (rng.next() < 0.3) await sleep(rng.int(12))
      }
      const backedUp = await backup
      if (backedUp) {
        expect(backedUp.code, `backup during the workload: ${backedUp.stderr} ${why}`).toBe(0)
        backups++
      }
      await sleep(quietHalfMs)
      const at = Date.now()
      const print = await liveFingerprint(ctx)
      quiet.push({ at, n: committed, print })
      lastQuiet = committed
      if (round % 8 === 3) {
        // The agent runs in this process and holds the capture lock: the bookmark waits for it to ship.
        const name = `ops-${round}`
        const b = await bookmark(ctx, 'app-db', name)
        expect(b.name).toBe(name)
        marks.push({ name, n: committed, print, via: 'ops' })
      } else if (round % 8 === 7) {
        const name = `cli-${round}`
        const run = await runCli(['bookmark', 'app-db', name, '--json'], { cwd: dir })
        expect(run.code, `${run.stderr} ${why}`).toBe(0)
        marks.push({ name, n: committed, print, via: 'cli' })
      }
      await sleep(quietHalfMs)
    }
    const finalAt = quiet.at(-1)!.at
    stop.abort()
    await agent
    await exec.close()

    const unexpected = events.filter((e) => ['capture.gap', 'capture.generation', 'snapshot.failed'].includes(e.event))
    expect(unexpected, why).toEqual([])

    // The oracle itself must agree with what the live database held at the quiet moments.
    const wanted = [...new Set(quiet.map((q) => q.n))]
    const oracle = oracleFingerprints(join(dir, 'oracle.db'), initial, workload.txns, wanted)
    for (const q of quiet) expect(oracle.get(q.n), `oracle of txn ${q.n} ${why}`).toEqual(q.print)

    const problems: string[] = []
    // A context of its own: the agent's one cached the pack index before the CLI backups ran.
    const reader = await openContext({ config })
    onTestFinished(() => reader.close())
    let count = 0
    const snapshotsUsed = new Set<string>()
    const restoreAt = async (at: number, cli: boolean): Promise<string> => {
      const target = join(dir, `restored-${count++}.db`)
      if (cli) {
        const run = await runCli(['restore', 'app-db', '--to', target, '--at', iso(at), '--json'], { cwd: dir })
        if (run.code !== 0) throw new Error(`restore --at ${iso(at)} exited ${run.code}: ${run.stdout}${run.stderr}`)
        snapshotsUsed.add(run.json<{ snapshot: string }>().snapshot)
      } else {
        snapshotsUsed.add((await restore(reader, { resource: 'app-db', target, at })).snapshot.id)
      }
      return target
    }

    for (const [i, q] of quiet.entries()) {
      const label = `quiet moment ${i} ${iso(q.at)} (txn ${q.n})`
      try {
        const target = await restoreAt(q.at, i % 6 === 0)
        const n = txnOf(target)
        const print = await targetFingerprint(ctx, target)
        if (n !== q.n || JSON.stringify(print) !== JSON.stringify(q.print)) {
          problems.push(`${label}: restored txn ${n}${n === q.n ? ' with different content' : ''}`)
        }
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`)
      }
    }

    const busyTargets: { moment: BusyMoment; target: string; n: number }[] = []
    for (const moment of busy) {
      try {
        const target = await restoreAt(moment.at, false)
        busyTargets.push({ moment, target, n: txnOf(target) })
      } catch (err) {
        problems.push(`busy moment ${iso(moment.at)}: ${(err as Error).message}`)
      }
    }
    const busyOracle = oracleFingerprints(
      join(dir, 'oracle-busy.db'),
      initial,
      workload.txns,
      busyTargets.map((b) => b.n).filter((n) => n >= 0 && n <= committed),
    )
    for (const { moment, target, n } of busyTargets) {
      const label = `busy moment ${iso(moment.at)} (txns ${moment.minN} to ${moment.maxN} possible)`
      if (n < moment.minN || n > moment.maxN) problems.push(`${label}: restored txn ${n}`)
      else if (JSON.stringify(await targetFingerprint(ctx, target)) !== JSON.stringify(busyOracle.get(n))) {
        problems.push(`${label}: restored txn ${n}, but not the state right after it (part of a transaction)`)
      }
    }

    for (const mark of marks) {
      const label = `bookmark ${mark.name} (set through ${mark.via}, txn ${mark.n})`
      try {
        const target = join(dir, `bookmark-${mark.name}.db`)
        const run = await runCli(['restore', 'app-db', '--to', target, '--bookmark', mark.name], { cwd: dir })
        if (run.code !== 0) throw new Error(`exited ${run.code}: ${run.stderr}`)
        if (JSON.stringify(await targetFingerprint(ctx, target)) !== JSON.stringify(mark.print)) {
          problems.push(`${label}: restored txn ${txnOf(target)}`)
        }
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`)
      }
    }

    expect(snapshotsUsed.size, `snapshots the restores started from ${why}`).toBe(1 + backups)
    const finalTarget = await restoreAt(finalAt, true)
    expect(await targetFingerprint(ctx, finalTarget), `restore at the final moment ${why}`).toEqual(
      await liveFingerprint(ctx),
    )
    expect(
      problems,
      `${quiet.length} quiet moments, ${busy.length} busy ones, ${marks.length} bookmarks ${why}`,
    ).toEqual([])
  })
})
