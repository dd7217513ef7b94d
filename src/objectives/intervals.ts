/** A stretch of moments, in ms since the epoch, both ends included. */
export interface Interval {
  from: number
  to: number
}

/**
 * The moments in `before` that are not in `after`: what became unrecoverable when some
 * snapshots or segments were found damaged. Single moments (a snapshot without capture)
 * count as intervals of length zero.
 */
export function subtractWindows(before: Interval[], after: Interval[]): Interval[] {
  const kept = merge(after)
  const lost: Interval[] = []
  for (const range of merge(before)) {
    if (range.from === range.to) {
      if (!kept.some((k) => k.from <= range.from && k.to >= range.to)) lost.push(range)
      continue
    }
    let cursor = range.from
    for (const k of kept) {
      if (k.to < cursor) continue
      if (k.from > range.to) break
      if (k.from > cursor) lost.push({ from: cursor, to: k.from })
      cursor = Math.max(cursor, k.to)
      if (cursor >= range.to) break
    }
    if (cursor < range.to) lost.push({ from: cursor, to: range.to })
  }
  return lost
}

function merge(ranges: Interval[]): Interval[] {
  const sorted = ranges.map((r) => ({ ...r })).sort((a, b) => a.from - b.from || a.to - b.to)
  const out: Interval[] = []
  for (const r of sorted) {
    const last = out.at(-1)
    if (last && r.from <= last.to) last.to = Math.max(last.to, r.to)
    else out.push(r)
  }
  return out
}
