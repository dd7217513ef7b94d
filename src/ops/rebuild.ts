import { DrkitError, InternalError } from '../errors.js'
import type { Boundary } from '../model.js'
import type { Repository } from '../repository/index.js'
import type { LiveRows, LiveTable, RowKey, StoredImage } from '../sources/index.js'
import {
  type Move,
  moveOf,
  type NetChange,
  originsOf,
  partialImage,
  RowTracker,
  type SegmentPoint,
  sameImage,
} from '../timeline/index.js'
import { readChanges } from './changes.js'

export interface WindowSpan {
  resource: string
  generation: string
  segments: SegmentPoint[]
  /** The snapshot the window's start is restored from (at or before it, same generation). */
  snapshot: string
  from: Boundary
  to: Boundary
}

/**
 * Completes the partial images of a netted window (see `partialImage`): the rows it needs
 * are rebuilt from the snapshot before the window and the captured changes since, for
 * those rows only (timeline/rebuild.ts). Rows whose whole images turn out equal are left
 * out, as netChanges leaves out rows changed and changed back.
 */
export async function completeImages(
  repository: Repository,
  rows: LiveRows,
  tables: LiveTable[],
  net: NetChange[],
  span: WindowSpan,
): Promise<NetChange[]> {
  const columns = new Map(tables.map((t) => [t.name, t.columns]))
  const needed: (RowKey & { at: number })[] = []
  for (const n of net) {
    if (partialImage(n.before, columns.get(n.table))) needed.push({ table: n.table, key: n.key, at: span.from.seq })
    if (partialImage(n.after, columns.get(n.table))) needed.push({ table: n.table, key: n.key, at: span.to.seq })
  }
  if (needed.length === 0) return net
  if (!rows.storedRows)
    throw new InternalError(`${span.resource} captured partial row images but cannot read stored rows`)
  const keyColumns = new Map(tables.map((t) => [t.name, t.key]))
  const involved = new Set(needed.map((n) => n.table))
  const snapshot = await repository.findSnapshot(span.resource, span.snapshot)
  const since = (until: number) =>
    readChanges(repository, {
      resource: span.resource,
      generation: span.generation,
      segments: span.segments,
      after: snapshot.position.seq ?? 0,
      until,
    })

  // 1. Where each needed row was at the snapshot.
  const moves: Move[] = []
  for await (const c of since(span.to.seq)) {
    const m = involved.has(c.table) ? moveOf(c, keyColumns) : undefined
    if (m) moves.push(m)
  }
  const origins = originsOf(needed, moves)
  // 2. Those rows in the snapshot, then the changes since, up to each end of the window.
  const context = `snapshot ${snapshot.id.slice(0, 8)} of ${span.resource}`
  const image: StoredImage = {
    details: snapshot.details,
    streams: (async function* () {
      for (const ref of snapshot.streams) yield { name: ref.name, data: repository.readStream(ref, context) }
    })(),
  }
  const base = await rows.storedRows(image, origins)
  const tracker = new RowTracker(
    keyColumns,
    origins.map((o, i) => ({ ...o, row: base[i] ?? null })),
  )
  const atFrom = new Map<NetChange, NetChange['before']>()
  const readFrom = () => {
    for (const n of net) if (partialImage(n.before, columns.get(n.table))) atFrom.set(n, known(tracker, n, 'start'))
  }
  let passedFrom = false
  for await (const c of since(span.to.seq)) {
    if (!passedFrom && c.seq > span.from.seq) {
      readFrom()
      passedFrom = true
    }
    if (involved.has(c.table)) tracker.apply(c)
  }
  if (!passedFrom) readFrom()
  const complete: NetChange[] = []
  for (const n of net) {
    const before = atFrom.has(n) ? atFrom.get(n)! : n.before
    const after = partialImage(n.after, columns.get(n.table)) ? known(tracker, n, 'end') : n.after
    if (sameImage(before, after) && sameImage(after, before)) continue
    complete.push({ ...n, before, after })
  }
  return complete
}

function known(tracker: RowTracker, n: NetChange, end: 'start' | 'end') {
  const row = tracker.get(n.table, n.key)
  if (row === undefined) {
    throw new DrkitError(
      `cannot rebuild the row of ${n.table} with key ${JSON.stringify(n.key)} at the window's ${end} ` +
        'from the snapshot and the captured changes',
    )
  }
  return row
}
