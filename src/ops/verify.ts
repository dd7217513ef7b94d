import { randomInt } from 'node:crypto'
import { IntegrityError } from '../errors.js'
import { keys } from '../repository/format.js'
import type { Repository, Snapshot } from '../repository/index.js'
import { shortId } from '../repository/index.js'
import type { OpsContext } from './context.js'
import { type RestoreTestResult, restoreTest } from './restore-test.js'
import { readPacks } from './verify-packs.js'
import { checkResource, type ResourceCheck } from './verify-resources.js'

export type { ResourceCheck } from './verify-resources.js'

export interface VerifyOptions {
  resource?: string
  /**
   * Read and hash stored bytes, not only the structure: every pack and segment (`true`), or
   * a random PERCENT of them, a different share each run, so that repeated runs cover all.
   */
  readData?: boolean | number
  /** Keep the result in the repository as evidence (default true). */
  store?: boolean
  /** The moment freshness and coverage are judged at (default now). */
  now?: Date
  /** Restore the newest recoverable state of each resource into a scratch target and check it. */
  restoreTest?: boolean
  /** How long to wait for the delete phase of a prune in flight (default 10 minutes). */
  waitMs?: number
}

export interface VerifyProblem {
  /** The damaged or missing object: `data/ab/…`, `index/…`, `snapshots/app-db/…`. */
  object: string
  problem: string
  /** Ids of the snapshots that cannot be restored because of it. */
  snapshots: string[]
  /** For damaged or missing changes: the moments that cannot be restored exactly. */
  moments?: { from: string; to: string }
}

export interface VerifyResult {
  /** No damage: every snapshot and every captured moment that was recoverable still is. */
  ok: boolean
  /** Every resource's newest recoverable point is within its RPO and its schedule has every snapshot. */
  objectivesMet: boolean
  snapshots: number
  packs: number
  bytesRead: number
  problems: VerifyProblem[]
  /** The share of packs and segments read, in percent (0 without --read-data). */
  readDataPercent: number
  /** Per resource: what the damage costs it, freshness against its RPO, coverage of its schedule. */
  resources: ResourceCheck[]
  /** Ids of the evidence records stored, or why they could not be. */
  evidence: { stored: string[]; error?: string }
  /** With `restoreTest`: one per resource that has snapshots. */
  restoreTests?: RestoreTestResult[]
  durationMs: number
}

/**
 * Checks that every snapshot can be restored: its manifest, its chunk lists and every
 * chunk it references are in the index and in packs that exist; with `readData`, every
 * pack (or a random share of them) is read in full and every blob in it is decoded and
 * checked against its hash, and so is every segment. Each problem names the object and
 * the snapshots it affects; per resource, the moments it makes unrecoverable, and the
 * freshness and schedule coverage against the plan. The result is stored as evidence.
 * Holds a read lock on the repository throughout, so that no prune deletes what it reads.
 */
export async function verify(ctx: OpsContext, opts: VerifyOptions = {}): Promise<VerifyResult> {
  if (opts.resource) ctx.resource(opts.resource)
  const repository = await ctx.repository()
  // A read lock on the whole repository keeps a prune's delete phase out while verify reads:
  // a pack deleted under it would be reported as damage that is not there.
  const lock = await repository.lock('*', 'read', { command: 'verify', waitMs: opts.waitMs ?? 10 * 60_000 })
  try {
    return await verifyLocked(ctx, repository, opts)
  } finally {
    // A lock that cannot be removed goes stale; failing to remove it must not hide the verdict.
    await lock.release().catch(() => undefined)
  }
}

async function verifyLocked(ctx: OpsContext, repository: Repository, opts: VerifyOptions): Promise<VerifyResult> {
  const percent = readDataPercent(opts.readData)
  const now = opts.now ?? new Date()
  const started = performance.now()
  const problems: VerifyProblem[] = []
  const snapshots = await readSnapshots(repository, opts.resource, problems)
  const index = await repository.loadIndex()
  for (const damaged of repository.damagedIndexes) {
    problems.push({ object: damaged.key, problem: damaged.error, snapshots: [] })
  }
  const packSizes = new Map<string, number>()
  for await (const { key, size } of repository.backend.list(keys.packPrefix)) packSizes.set(key, size)

  // Blobs found damaged or missing, with the object to blame.
  const bad = new Map<string, string>()
  let bytesRead = 0
  if (percent > 0) {
    const packs = sample([...index.slotsByPack()], percent).filter(([id]) => packSizes.has(keys.pack(id)))
    const blobsOf = packs.map(([id, slots]): [string, () => ReturnType<typeof index.blobsAt>] => [
      id,
      () => index.blobsAt(slots),
    ])
    await readPacks(repository, blobsOf, (packId, bytes, damage) => {
      const key = keys.pack(packId)
      bytesRead += bytes
      for (const id of damage.badBlobs) bad.set(id, key)
      if (damage.problem) problems.push({ object: key, problem: damage.problem, snapshots: [] })
    })
  }
  const reader = await repository.blobReader()
  for (const snapshot of snapshots) {
    const context = `snapshot ${shortId(snapshot.id)} of ${snapshot.resource}`
    /** Whether a blob is readable as far as verify knows; blames its pack (or the index) on the snapshot if not. */
    const check = (id: string): boolean => {
      const at = index.get(id)
      if (!at) {
        attach(problems, `chunk ${id.slice(0, 12)}`, 'missing from every index', snapshot.id)
        return false
      }
      const key = keys.pack(at.pack)
      const size = packSizes.get(key)
      if (size === undefined || at.offset + at.length > size) bad.set(id, key)
      const blame = bad.get(id)
      if (blame) attach(problems, blame, `${packSizes.has(blame) ? 'damaged' : 'missing'} data`, snapshot.id)
      return !blame
    }
    for (const ref of snapshot.streams) {
      for (const listId of ref.lists) {
        if (!check(listId)) continue
        let list: Buffer
        try {
          list = Buffer.from(await reader.loadOne(listId, context))
        } catch (err) {
          if (!(err instanceof IntegrityError)) throw err
          attach(problems, keys.pack(index.get(listId)!.pack), err.message, snapshot.id)
          continue
        }
        for (let at = 0; at < list.length; at += 32) check(list.toString('hex', at, at + 32))
      }
    }
  }
  const restoreTests = opts.restoreTest ? await testRestores(ctx, snapshots, problems) : undefined
  const names = opts.resource ? [opts.resource] : Object.keys(ctx.plan.resources)
  const resources: ResourceCheck[] = []
  for (const name of names) {
    const own = snapshots.filter((s) => s.resource === name)
    resources.push(
      await checkResource(repository, ctx.resource(name), own, problems, {
        now: now.getTime(),
        readSegments: (segments) => (percent > 0 ? sample(segments, percent) : []),
      }),
    )
  }
  const result: VerifyResult = {
    ok: problems.length === 0,
    objectivesMet: resources.every((r) => r.freshness.ok && (r.coverage?.ok ?? true)),
    snapshots: snapshots.length,
    packs: index.packCount,
    bytesRead,
    problems,
    readDataPercent: percent,
    resources,
    evidence: { stored: [] },
    ...(restoreTests && { restoreTests }),
    durationMs: Math.round(performance.now() - started),
  }
  if (opts.store !== false) result.evidence = await storeEvidence(repository, result, now)
  return result
}

/**
 * One evidence record per resource checked: its verdict, and the repository's problems
 * that touch its snapshots or no snapshot in particular. A repository that cannot take the
 * record does not hide the verdict: the error is returned beside it.
 */
async function storeEvidence(
  repository: Repository,
  result: VerifyResult,
  now: Date,
): Promise<VerifyResult['evidence']> {
  const stored: string[] = []
  try {
    for (const check of result.resources) {
      const { resources: _, evidence: __, ...whole } = result
      const problems = result.problems.filter(
        (p) => p.snapshots.length === 0 || p.snapshots.some((id) => check.damagedSnapshots.includes(id)),
      )
      const body: VerifyEvidence = { ...whole, problems, check }
      const ok = check.ok && problems.length === 0
      stored.push(
        (
          await repository.writeEvidence({
            kind: 'verify',
            time: now.toISOString(),
            resource: check.resource,
            ok,
            body,
          })
        ).id,
      )
    }
    return { stored }
  } catch (err) {
    return { stored, error: (err as Error).message }
  }
}

/** What a verify evidence record holds: the run's figures, the problems that touch the resource, its check. */
export type VerifyEvidence = Omit<VerifyResult, 'resources' | 'evidence'> & { check: ResourceCheck }

function readDataPercent(readData: boolean | number | undefined): number {
  if (readData === true) return 100
  if (!readData) return 0
  return Math.min(100, Math.max(0, readData))
}

/** A random PERCENT of items (at least one when there are any), in their original order. */
function sample<T>(items: T[], percent: number): T[] {
  if (percent >= 100) return items
  const count = Math.min(items.length, Math.max(1, Math.ceil((items.length * percent) / 100)))
  const picked = new Set<number>()
  while (picked.size < count) picked.add(randomInt(items.length))
  return items.filter((_, i) => picked.has(i))
}

/** A restore test of each resource of the plan that has snapshots; each failure is a problem. */
async function testRestores(ctx: OpsContext, snapshots: Snapshot[], problems: VerifyProblem[]) {
  const results: RestoreTestResult[] = []
  const names = new Set(snapshots.map((s) => s.resource))
  for (const resource of Object.keys(ctx.plan.resources).filter((r) => names.has(r))) {
    const result = await restoreTest(ctx, resource)
    results.push(result)
    if (result.ok) continue
    const problem = result.error ?? `restored copy differs from the backup: ${result.mismatches.join('; ')}`
    problems.push({
      object: `restore test of ${resource}`,
      problem,
      snapshots: result.snapshot ? [result.snapshot] : [],
    })
  }
  return results
}

async function readSnapshots(repository: Repository, resource: string | undefined, problems: VerifyProblem[]) {
  const found: Snapshot[] = []
  for await (const { key } of repository.backend.list(keys.snapshotPrefix(resource))) {
    try {
      found.push(await repository.readSnapshotKey(key))
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err
      problems.push({ object: key, problem: err.message, snapshots: [key.slice(key.lastIndexOf('/') + 1)] })
    }
  }
  return found
}

/** Adds a snapshot to the problem about `object`, creating the problem on first sight. */
function attach(problems: VerifyProblem[], object: string, problem: string, snapshotId: string): void {
  let entry = problems.find((p) => p.object === object)
  if (!entry) {
    entry = { object, problem, snapshots: [] }
    problems.push(entry)
  }
  if (!entry.snapshots.includes(snapshotId)) entry.snapshots.push(snapshotId)
}
