import { join } from 'node:path'
import { PlanError } from '../errors.js'
import type { Boundary } from '../model.js'
import { bookmark } from '../ops/bookmark.js'
import { CaptureShipper } from '../ops/capture.js'
import { contextFromPlan, createRepository, type OpsContext } from '../ops/context.js'
import { type RestoreResult, restore } from '../ops/restore.js'
import { fingerprintOf } from '../ops/restore-test.js'
import { type ScratchTarget, scratchFactory } from '../ops/scratch/index.js'
import type { Plan, Resource } from '../plan/index.js'
import type { Fingerprint } from '../sources/index.js'
import type { DrillRun } from './run.js'

/**
 * The copy of a resource a drill plays its scenario on: a scratch target (or the plan's
 * staging resource) restored from the repository. For point-in-time scenarios the copy
 * gets capture of its own, shipped into a scratch repository in the run's folder: the
 * scenario then exercises the same capture → segments → restore path as the real
 * resource, and the real repository's timeline is never written to.
 */
export class WorkingCopy {
  /** With capture: the scratch plan's context, whose one resource lives at `capturedAt`. */
  private scratchCtx?: OpsContext
  private capturedAt?: ScratchTarget
  private count = 0

  private constructor(
    private readonly run: DrillRun,
    readonly resource: Resource,
    /** The target the copy is at now; a point-in-time restore moves it to a new one. */
    public target: ScratchTarget,
  ) {}

  /** A new scratch target for `resource` (or the drill's staging resource), registered for clean-up. */
  static async open(run: DrillRun, resourceName: string): Promise<WorkingCopy> {
    const { ctx, drill } = run
    const resource = ctx.resource(resourceName)
    const factory = scratchFactory(resource)
    if (drill.staging !== undefined && resourceName === drill.resource) {
      const staging = ctx.resource(drill.staging)
      if (staging.type !== resource.type) {
        throw new PlanError(
          `drill "${drill.name}": staging resource ${staging.name} is of type ${staging.type}, not ${resource.type} like ${resource.name}`,
        )
      }
      const target = await factory.existing(staging, ctx.plan.baseDir)
      run.targets[resourceName] = target.target
      return new WorkingCopy(run, resource, target)
    }
    return new WorkingCopy(run, resource, await newTarget(run, resource))
  }

  /** Restores the resource's newest recoverable state from the repository into the copy. */
  async restoreLatest(signal?: AbortSignal): Promise<RestoreResult> {
    // Whatever the target holds (a staging resource's older data, a drill's fault) is replaced, not merged into;
    // a target that does not exist yet has nothing to wipe.
    await this.target.wipe().catch(() => undefined)
    return restore(this.run.ctx, {
      resource: this.resource.name,
      target: this.target.target,
      force: true,
      signal,
    })
  }

  fingerprint(): Promise<Fingerprint> {
    return fingerprintOf(this.run.ctx, this.resource.name, { target: this.target.target })
  }

  query(sql: string): Promise<unknown> {
    if (!this.target.query) {
      throw new PlanError(`${this.resource.name} (type ${this.resource.type}) does not run SQL`)
    }
    return this.target.query(sql)
  }

  get captured(): boolean {
    return this.scratchCtx !== undefined
  }

  /** Installs capture in the copy and ships its base snapshot to a scratch repository. */
  async enableCapture(): Promise<void> {
    const plan: Plan = {
      ...this.run.ctx.plan,
      repository: { kind: 'fs', url: join(this.run.dir, 'repo'), path: join(this.run.dir, 'repo') },
      resources: {
        [this.resource.name]: { ...this.resource, config: this.target.config, capture: { intervalMs: 1000 } },
      },
      alerts: [],
      drills: [],
    }
    await (await createRepository(plan)).close()
    this.scratchCtx = contextFromPlan(plan)
    this.capturedAt = this.target
    const ctx = this.scratchCtx
    this.run.onCleanup(() => ctx.close())
    await this.ship()
  }

  /** Ships every change captured in the copy, as the agent would. */
  async ship(): Promise<void> {
    const shipper = await CaptureShipper.open(this.captureCtx(), this.resource.name)
    await shipper.close()
  }

  /** A boundary proven now in the copy's capture. */
  async position(): Promise<Boundary> {
    const shipper = await CaptureShipper.open(this.captureCtx(), this.resource.name)
    try {
      return (await shipper.position()).boundary
    } finally {
      await shipper.close()
    }
  }

  /** Names the copy's current position in the scratch repository. */
  async bookmark(name: string): Promise<void> {
    await bookmark(this.captureCtx(), this.resource.name, name)
  }

  /** Restores the copy's own timeline at a bookmark or moment into a new scratch target, which becomes the copy. */
  async restorePoint(point: { bookmark?: string; at?: number }, signal?: AbortSignal): Promise<RestoreResult> {
    const ctx = this.captureCtx()
    const next = await newTarget(this.run, this.resource, `${this.resource.name}-recovered-${++this.count}`)
    const result = await restore(ctx, { resource: this.resource.name, target: next.target, ...point, signal })
    this.target = next
    return result
  }

  /** The undo op runs on the captured copy: it must be the current target. */
  get context(): OpsContext {
    const ctx = this.captureCtx()
    if (this.target !== this.capturedAt) {
      throw new PlanError('the drill restored the copy elsewhere; undo applies to the captured copy only')
    }
    return ctx
  }

  private captureCtx(): OpsContext {
    if (!this.scratchCtx) throw new PlanError(`drill "${this.run.drill.name}": the working copy has no capture`)
    return this.scratchCtx
  }
}

/** A new scratch target, registered for removal after the run. */
async function newTarget(run: DrillRun, resource: Resource, label = resource.name): Promise<ScratchTarget> {
  const { ctx, drill } = run
  const target = await scratchFactory(resource).create(resource, {
    dir: run.dir,
    label,
    baseDir: ctx.plan.baseDir,
    given: label === resource.name && resource.name === drill.resource ? drill.scratch : undefined,
    resources: Object.values(ctx.plan.resources),
  })
  run.onCleanup(() => target.remove())
  run.targets[label] = target.target
  return target
}
