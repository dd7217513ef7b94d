import { IntegrityError } from '../errors.js'
import type { Change } from '../model.js'
import type { Repository, SegmentRef } from '../repository/index.js'
import type { SegmentPoint } from '../timeline/index.js'

export interface ChangeRange {
  resource: string
  generation?: string
  /** The generation's segments (a timeline's segment points are the repository's refs, handed through). */
  segments: SegmentPoint[]
  /** Changes with seq in (after, until]. */
  after: number
  until: number
}

/**
 * The changes of a range, each once and in order, read segment by segment (segments may
 * overlap: shipping is at least once). A change missing from the repository ends the
 * read with an IntegrityError: a replay or a diff never silently skips one.
 */
export async function* readChanges(
  repository: Repository,
  range: ChangeRange,
  counter?: { changes: number },
): AsyncIterable<Change> {
  let last = range.after
  for (const seg of range.segments) {
    if (seg.last <= last || seg.first > range.until) continue
    for (const change of (await repository.readSegment(seg as SegmentRef)).changes) {
      if (change.seq <= last || change.seq > range.until) continue
      if (change.seq !== last + 1) break
      last = change.seq
      if (counter) counter.changes++
      yield change
    }
  }
  if (last !== range.until) {
    throw new IntegrityError(
      `changes ${last + 1} to ${range.until} of ${range.resource} (generation ${range.generation}) ` +
        'are missing from the repository',
      'Run `drkit verify` to see what is damaged; `drkit timeline` shows the recoverable window.',
    )
  }
}
