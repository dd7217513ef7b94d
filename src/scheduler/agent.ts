/**
 * The agent: one loop that captures and ships changes for every resource with `capture`,
 * takes the snapshots that `snapshots.schedule` asks for, and runs the drills that are due
 * and applies the retention that `retention.schedule` asks for (each in the background). With alerts, it sends them for its failures and
 * checks the objectives periodically. It calls ops and the drill runner, nothing below them.
 */
import { Cron } from 'croner'
import type { AlertDispatcher } from '../alerts/index.js'
import { backup } from '../ops/backup.js'
import { type CaptureEvent, CaptureShipper } from '../ops/capture.js'
import type { OpsContext } from '../ops/context.js'
import { DueDrills } from './drills.js'
import { ScheduledRetention } from './retention.js'
import { Watch } from './watch.js'

/** How often the agent looks for new commits: the finest transaction boundary it can prove. */
const pollMs = 20

export interface AgentEvent {
  event:
    | CaptureEvent['event']
    | 'snapshot.taken'
    | 'snapshot.failed'
    | 'check.failed'
    | 'drill.started'
    | 'drill.passed'
    | 'drill.failed'
    | 'drill.stopped'
    | 'retention.applied'
    | 'retention.failed'
    | 'agent.started'
    | 'agent.stopped'
  resource?: string
  /** The drill a drill event is about. */
  drill?: string
  message: string
  changes?: number
  lagMs?: number
}

export interface AgentOptions {
  /** One pass: ship everything captured, take snapshots that are due, run the due drills, and return. */
  once?: boolean
  /** Stops the loop; everything captured so far is shipped before `runAgent` returns. */
  signal?: AbortSignal
  onEvent?: (e: AgentEvent) => void
  /** Where alerts go; delivery happens in the background and is awaited when the agent stops. */
  alerts?: AlertDispatcher
  /** How often the objectives are checked for alerts (default one minute; once per pass with `once`). */
  checkEveryMs?: number
  /** Run the drills that are due (default true; false when drills run only from cron). */
  drills?: boolean
}

export async function runAgent(ctx: OpsContext, opts: AgentOptions = {}): Promise<void> {
  const watch = opts.alerts?.enabled ? new Watch(ctx, opts.alerts, opts.checkEveryMs ?? 60_000) : undefined
  const emit = (e: AgentEvent) => {
    watch?.onEvent(e)
    opts.onEvent?.(e)
  }
  const captured = Object.values(ctx.plan.resources).filter((r) => r.capture)
  const scheduled = Object.values(ctx.plan.resources).filter((r) => r.snapshots?.schedule)
  const shippers: CaptureShipper[] = []
  const drills =
    opts.drills !== false && ctx.plan.drills.some((d) => d.every)
      ? new DueDrills(ctx, emit, opts.checkEveryMs ?? 60_000, opts.signal)
      : undefined
  const retention = new ScheduledRetention(ctx, emit, opts.checkEveryMs ?? 60_000)
  try {
    for (const r of captured) shippers.push(await CaptureShipper.open(ctx, r.name, emit))
    emit({ event: 'agent.started', message: `capturing ${captured.length}, scheduled ${scheduled.length} resources` })
    const schedules = scheduled.map((r) => ({
      resource: r.name,
      cron: new Cron(r.snapshots!.schedule!, { paused: true, timezone: 'UTC' }),
      next: 0,
    }))
    const snapshotDue = async (s: (typeof schedules)[number], now: Date) => {
      // Due when a scheduled run passed since the latest snapshot (the agent was down then).
      const latest = (await (await ctx.repository()).listSnapshots(s.resource)).at(-1)
      const missed = latest ? s.cron.nextRun(new Date(latest.time)) : now
      return missed !== null && missed.getTime() <= now.getTime()
    }
    for (const s of schedules) s.next = (await snapshotDue(s, new Date())) ? Date.now() : nextRun(s.cron)
    const lastShip = new Map<CaptureShipper, number>()
    for (;;) {
      const now = Date.now()
      for (const shipper of shippers) {
        await shipper.tick()
        if (opts.once || now - (lastShip.get(shipper) ?? 0) >= shipper.intervalMs) {
          await shipper.ship()
          lastShip.set(shipper, now)
        }
      }
      for (const s of schedules) {
        if (now < s.next) continue
        await takeSnapshot(ctx, s.resource, emit)
        s.next = nextRun(s.cron)
      }
      // With --once the drills run before the check, so it sees their results.
      if (drills && opts.once) await drills.runNow()
      else drills?.poll(now)
      if (retention.enabled && opts.once) await retention.runNow()
      else if (retention.enabled) retention.poll(now)
      if (watch && (opts.once || watch.isDue(now))) await check(watch, emit)
      if (opts.once || opts.signal?.aborted) break
      await sleep(pollMs, opts.signal)
    }
  } finally {
    await drills?.settle()
    await retention.settle()
    for (const shipper of shippers) await shipper.close()
    emit({ event: 'agent.stopped', message: 'everything captured is shipped' })
    await opts.alerts?.flush()
  }
}

async function check(watch: Watch, emit: (e: AgentEvent) => void): Promise<void> {
  try {
    await watch.check()
  } catch (err) {
    // A check that cannot read the repository now is retried at the next one; capture goes on.
    emit({ event: 'check.failed', message: `checking the objectives failed: ${(err as Error).message}` })
  }
}

async function takeSnapshot(ctx: OpsContext, resource: string, emit: (e: AgentEvent) => void): Promise<void> {
  try {
    const { snapshot } = await backup(ctx, resource, { waitMs: 60_000 })
    emit({ event: 'snapshot.taken', resource, message: `snapshot ${snapshot.id.slice(0, 8)} taken` })
  } catch (err) {
    // A failed scheduled snapshot is reported and retried at the next run; capture goes on.
    emit({ event: 'snapshot.failed', resource, message: `scheduled snapshot failed: ${(err as Error).message}` })
  }
}

function nextRun(cron: Cron): number {
  return cron.nextRun()?.getTime() ?? Number.POSITIVE_INFINITY
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
