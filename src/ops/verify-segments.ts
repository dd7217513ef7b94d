import { IntegrityError } from '../errors.js'
import type { Repository, SegmentRef } from '../repository/index.js'

/** A hole in a generation's chain of segments, or a segment that cannot be read. */
export interface SegmentProblem {
  /** The generation's segment folder, or the damaged segment's key. */
  object: string
  problem: string
  /** The moments the damage makes unrecoverable (ISO 8601). */
  moments: { from: string; to: string }
}

/**
 * Checks the segment chains of a resource: within each generation, consecutive segments
 * continue each other's positions without a hole, and the head is not ahead of the
 * chain. A chain may start late (forget removes segments older than the PITR window's
 * base), so only holes after its first segment count. With `readData`, every segment
 * is read and checked against its hash.
 */
export async function verifySegments(
  repository: Repository,
  resource: string,
  opts: { readData?: boolean },
): Promise<SegmentProblem[]> {
  const problems: SegmentProblem[] = []
  const [segments, heads, snapshots] = await Promise.all([
    repository.listSegments(resource),
    repository.readHeads(resource),
    repository.listSnapshots(resource),
  ])
  const byGeneration = new Map<string, SegmentRef[]>()
  for (const s of segments) byGeneration.set(s.generation, [...(byGeneration.get(s.generation) ?? []), s])
  const iso = (ms: number) => new Date(ms).toISOString()
  for (const [generation, chain] of byGeneration) {
    const restarts = snapshots
      .filter((s) => s.position.generation === generation && s.position.seq !== undefined)
      .map((s) => ({ seq: s.position.seq!, time: Date.parse(s.position.time) }))
      .sort((a, b) => a.seq - b.seq)
    const head = heads.get(generation)
    const end = Math.max(head?.time ?? 0, ...chain.map((s) => s.lastTime))
    /** The moments from `from` up to the first snapshot that needs nothing before `seq`. */
    const lost = (from: number, seq: number) => ({
      from: iso(from),
      to: iso(restarts.find((s) => s.seq >= seq)?.time ?? end),
    })
    let reach = chain[0]!.last
    let reachTime = chain[0]!.lastTime
    for (const seg of chain.slice(1)) {
      if (seg.first > reach + 1) {
        problems.push({
          object: `segments/${resource}/${generation}/`,
          problem: `changes ${reach + 1}–${seg.first - 1} of generation ${generation} are missing`,
          moments: lost(reachTime, seg.first - 1),
        })
      }
      if (seg.last > reach) {
        reach = seg.last
        reachTime = Math.max(reachTime, seg.lastTime)
      }
    }
    const newestSnapshot = restarts.at(-1)?.seq ?? -1
    if (head && head.seq > reach && head.seq > newestSnapshot) {
      problems.push({
        object: `heads/${resource}/${generation}`,
        problem: `the head of generation ${generation} is at change ${head.seq}, but its segments end at ${reach}`,
        moments: lost(reachTime, head.seq),
      })
    }
    if (!opts.readData) continue
    for (const [i, seg] of chain.entries()) {
      try {
        await repository.readSegment(seg)
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err
        problems.push({
          object: seg.key,
          problem: err.message,
          moments: lost(chain[i - 1]?.lastTime ?? seg.firstTime, seg.last),
        })
      }
    }
  }
  return problems
}
