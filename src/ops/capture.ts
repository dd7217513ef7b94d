import { PlanError } from '../errors.js'
import type { Boundary, Change } from '../model.js'
import type { Repository } from '../repository/index.js'
import type { Capture, CaptureRead, Source } from '../sources/index.js'
import { backup } from './backup.js'
import type { OpsContext } from './context.js'

/** Something worth telling the operator or an alert: a new generation, a gap, a warning. */
export interface CaptureEvent {
  event: 'capture.installed' | 'capture.generation' | 'capture.gap' | 'capture.warning' | 'capture.shipped'
  resource: string
  message: string
  /** For capture.shipped: how many changes, and the newest change's age when stored (ms). */
  changes?: number
  lagMs?: number
}

/** How many changes one read takes from the source. */
const readLimit = 10_000

/**
 * Ships one resource's captured changes to the repository, at least once and in order:
 * read committed changes, store them as a segment, and only then let the source drop
 * them. Segments end at proven boundaries, except when a long stretch has none (a
 * backlog read in pieces), which is stored without boundaries and closed by the next.
 * Holds the resource's capture lock from `open` to `close`, so two agents never ship
 * the same resource.
 */
export class CaptureShipper {
  private pending: Boundary[] = []
  private lastHeadAt = 0
  private removed = false

  private constructor(
    private readonly ctx: OpsContext,
    private readonly repository: Repository,
    readonly resource: string,
    private readonly source: Source,
    private readonly capture: Capture,
    private readonly release: () => Promise<void>,
    private readonly onEvent: (e: CaptureEvent) => void,
    private generation: string,
    private shipped: number,
    readonly intervalMs: number,
  ) {}

  static async open(
    ctx: OpsContext,
    resource: string,
    onEvent: (e: CaptureEvent) => void = () => {},
  ): Promise<CaptureShipper> {
    const plan = ctx.resource(resource)
    const repository = await ctx.repository()
    const lock = await repository.lock(`${resource}:capture`, 'write', { command: `agent (capture of ${resource})` })
    try {
      const source = await ctx.openSource(resource)
      const capture = source.capture
      if (!capture) {
        await source.close()
        throw new PlanError(`${resource} (type ${plan.type}) cannot capture changes`)
      }
      const shipper = new CaptureShipper(
        ctx,
        repository,
        resource,
        source,
        capture,
        () => lock.release(),
        onEvent,
        '',
        0,
        plan.capture?.intervalMs ?? 1000,
      )
      await shipper.adopt()
      return shipper
    } catch (err) {
      await lock.release()
      throw err
    }
  }

  /** Installs capture if needed, and makes sure its generation has a base snapshot. */
  private async adopt(): Promise<void> {
    const state = await this.capture.install()
    for (const warning of state.warnings) this.emit('capture.warning', warning)
    if (state.installed) this.emit('capture.installed', `capture installed, generation ${state.generation}`)
    this.generation = state.generation
    const segments = await this.repository.listSegments(this.resource, state.generation)
    const heads = await this.repository.readHeads(this.resource)
    this.shipped = segments.reduce((m, s) => Math.max(m, s.last), heads.get(state.generation)?.seq ?? 0)
    this.pending = []
    const snapshots = await this.repository.listSnapshots(this.resource)
    // A backup of the resource may be running (`drkit backup` by hand): wait for it rather than fail.
    if (!snapshots.some((s) => s.position.generation === state.generation)) {
      await backup(this.ctx, this.resource, { waitMs: 30 * 60_000 })
    }
  }

  /** The generation and a boundary proven now. */
  async position(): Promise<{ generation: string; boundary: Boundary }> {
    const position = await this.capture.position()
    if (!position) throw new PlanError(`capture of ${this.resource} was removed while in use`)
    return position
  }

  /** Notes a boundary if something was committed since the last tick: call often. */
  async tick(): Promise<void> {
    const boundary = await this.capture.poll()
    if (boundary && boundary.seq > this.shipped) this.pending.push(boundary)
  }

  /** Ships every committed change now; returns how many. `final` records the head even if one was just written. */
  async ship(opts: { final?: boolean } = {}): Promise<number> {
    let total = 0
    for (;;) {
      const read = await this.capture.read(this.generation, this.shipped, readLimit)
      if (read.broken) {
        await this.restart(read)
        return total
      }
      if (read.changes.length === 0) {
        await this.heartbeat(read.boundary, opts.final)
        return total
      }
      total += await this.store(read)
      if (read.changes.length < readLimit) return total
    }
  }

  private async store(read: CaptureRead): Promise<number> {
    const last = read.changes.at(-1)!.seq
    const known = [...this.pending, ...(read.boundaries ?? []), ...(last === read.boundary.seq ? [read.boundary] : [])]
    const boundaries = earliestPerSeq(known.filter((b) => b.seq > this.shipped && b.seq <= last))
    const cut = last === read.boundary.seq ? last : (boundaries.at(-1)?.seq ?? last)
    const changes = read.changes.filter((c) => c.seq <= cut)
    const kept = boundaries.filter((b) => b.seq <= cut)
    await this.repository.writeSegment(this.resource, this.generation, { changes, boundaries: kept })
    const head = kept.at(-1)
    if (head?.seq === cut) await this.writeHead(head)
    // Shipped once stored: if the acknowledgement fails, the next read sees the changes as
    // shipped but not acknowledged, and acknowledges them with the next ones.
    this.shipped = cut
    this.pending = this.pending.filter((b) => b.seq > cut)
    await this.capture.acknowledge(cut)
    this.emit('capture.shipped', `shipped ${changes.length} changes`, changes.length, lagOf(changes))
    return changes.length
  }

  private async heartbeat(boundary: Boundary, force = false): Promise<void> {
    if (boundary.seq !== this.shipped || (!force && Date.now() - this.lastHeadAt < this.intervalMs)) return
    await this.writeHead(boundary)
  }

  private async writeHead(head: Boundary): Promise<void> {
    await this.repository.writeHead(this.resource, this.generation, head)
    this.lastHeadAt = Date.now()
  }

  /**
   * The generation cannot go on: the schema changed, changes went missing, or capture was
   * reinstalled. What was shipped stays restorable; a new generation starts with a fresh
   * snapshot, and the moments in between are not restorable exactly.
   */
  private async restart(read: CaptureRead): Promise<void> {
    const reason = read.broken!
    if (reason.reason === 'gap') this.emit('capture.gap', `capture gap: ${reason.detail}; starting a new generation`)
    if (reason.reason === 'reinstalled') {
      this.emit('capture.generation', `${reason.detail}; adopting the database's capture`)
      await this.adopt()
      return
    }
    const previous = this.generation
    await this.capture.reinstall()
    await this.adopt()
    this.emit('capture.generation', `${reason.detail}: generation ${previous} ended, ${this.generation} began`)
  }

  private emit(event: CaptureEvent['event'], message: string, changes?: number, lagMs?: number): void {
    this.onEvent({ event, resource: this.resource, message, changes, lagMs })
  }

  /** Ships what is left, takes capture out of the resource, and closes. */
  async remove(): Promise<void> {
    await this.ship()
    await this.capture.remove()
    this.removed = true
    await this.close()
  }

  /** Ships what is left, then lets go of the source and the lock. */
  async close(): Promise<void> {
    try {
      if (!this.removed) await this.ship({ final: true })
    } finally {
      await this.source.close()
      await this.release()
    }
  }
}

/** Boundaries sorted by seq, keeping the earliest time seen for each seq (the tightest proof). */
function earliestPerSeq(boundaries: Boundary[]): Boundary[] {
  const bySeq = new Map<number, number>()
  for (const b of boundaries) bySeq.set(b.seq, Math.min(b.time, bySeq.get(b.seq) ?? Number.POSITIVE_INFINITY))
  return [...bySeq].sort((a, b) => a[0] - b[0]).map(([seq, time]) => ({ seq, time }))
}

function lagOf(changes: Change[]): number {
  return Date.now() - Math.min(...changes.map((c) => c.time))
}

/**
 * Takes capture out of a resource cleanly: everything captured is shipped first. Returns
 * false when capture was not installed. Refused (LockedError) while an agent captures it.
 */
export async function removeCapture(ctx: OpsContext, resource: string): Promise<boolean> {
  const source = await ctx.openSource(resource)
  let installed: boolean
  try {
    installed = (await source.capture?.position()) !== undefined
  } finally {
    await source.close()
  }
  if (!installed) return false
  const shipper = await CaptureShipper.open(ctx, resource)
  await shipper.remove()
  return true
}
