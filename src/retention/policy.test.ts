import { describe, expect, it } from 'vitest'
import { applyRetention, formatSpan, type RetentionInput } from './policy.js'

const at = (iso: string) => Date.parse(iso)
const snap = (iso: string, id = iso): RetentionInput => ({ id, time: at(iso) })
const now = at('2026-03-01T12:00:00Z')

/** One snapshot a day at 00:30 and 12:30 from `from` for `days` days. */
function twiceDaily(from: string, days: number): RetentionInput[] {
  const out: RetentionInput[] = []
  for (let d = 0; d < days; d++) {
    const day = new Date(at(from) + d * 86_400_000).toISOString().slice(0, 10)
    out.push(snap(`${day}T00:30:00.000Z`), snap(`${day}T12:30:00.000Z`))
  }
  return out
}

const kept = (decisions: ReturnType<typeof applyRetention>) => decisions.filter((d) => d.keep).map((d) => d.id)

describe('applyRetention', () => {
  it('keeps everything, saying so, when there is no policy or the policy sets no rule', () => {
    const all = twiceDaily('2026-02-01', 3)
    for (const policy of [undefined, {}, { pitrMs: 86_400_000 }]) {
      const decisions = applyRetention(all, policy, now)
      expect(decisions.every((d) => d.keep)).toBe(true)
      expect(decisions[0]!.reasons).toEqual(['kept: no retention policy'])
    }
  })

  it('returns the snapshots newest first', () => {
    const decisions = applyRetention([snap('2026-01-01T00:00:00Z'), snap('2026-02-01T00:00:00Z')], { last: 1 }, now)
    expect(decisions.map((d) => d.id)).toEqual(['2026-02-01T00:00:00Z', '2026-01-01T00:00:00Z'])
  })

  it('last keeps the newest n', () => {
    const all = twiceDaily('2026-02-20', 5)
    const decisions = applyRetention(all, { last: 3 }, now)
    expect(kept(decisions)).toEqual([
      '2026-02-24T12:30:00.000Z',
      '2026-02-24T00:30:00.000Z',
      '2026-02-23T12:30:00.000Z',
    ])
    expect(decisions[0]!.reasons).toEqual(['kept: last 3'])
    expect(decisions.at(-1)!.reasons).toEqual(['forgotten: matches no rule'])
  })

  it('daily keeps the newest snapshot of each of the n newest days that have one', () => {
    // A gap: no snapshot on 02-22; periods without a snapshot do not count.
    const all = [...twiceDaily('2026-02-18', 4), ...twiceDaily('2026-02-23', 2)]
    const decisions = applyRetention(all, { daily: 4 }, now)
    expect(kept(decisions)).toEqual([
      '2026-02-24T12:30:00.000Z',
      '2026-02-23T12:30:00.000Z',
      '2026-02-21T12:30:00.000Z',
      '2026-02-20T12:30:00.000Z',
    ])
    expect(decisions.find((d) => d.id === '2026-02-21T12:30:00.000Z')!.reasons).toEqual(['kept: daily 2026-02-21'])
  })

  it('hourly, monthly and yearly name their periods', () => {
    const all = [
      snap('2024-06-01T10:15:00Z'),
      snap('2025-12-31T23:59:00Z'),
      snap('2026-01-15T09:00:00Z'),
      snap('2026-02-14T10:05:00Z'),
      snap('2026-02-14T10:45:00Z'),
      snap('2026-02-14T11:10:00Z'),
    ]
    const decisions = applyRetention(all, { hourly: 2, monthly: 3, yearly: 3 }, now)
    const reasons = Object.fromEntries(decisions.map((d) => [d.id, d.reasons]))
    expect(reasons['2026-02-14T11:10:00Z']).toEqual([
      'kept: hourly 2026-02-14T11',
      'kept: monthly 2026-02',
      'kept: yearly 2026',
    ])
    expect(reasons['2026-02-14T10:45:00Z']).toEqual(['kept: hourly 2026-02-14T10'])
    expect(reasons['2026-02-14T10:05:00Z']).toEqual(['forgotten: matches no rule'])
    expect(reasons['2026-01-15T09:00:00Z']).toEqual(['kept: monthly 2026-01'])
    expect(reasons['2025-12-31T23:59:00Z']).toEqual(['kept: monthly 2025-12', 'kept: yearly 2025'])
    expect(reasons['2024-06-01T10:15:00Z']).toEqual(['kept: yearly 2024'])
  })

  it('weekly uses ISO weeks (Monday first, week 1 holds the first Thursday) across a year end', () => {
    const all = [
      snap('2025-12-28T12:00:00Z'), // Sunday, 2025-W52
      snap('2025-12-29T12:00:00Z'), // Monday, 2026-W01
      snap('2026-01-04T12:00:00Z'), // Sunday, 2026-W01
      snap('2026-01-05T12:00:00Z'), // Monday, 2026-W02
    ]
    const decisions = applyRetention(all, { weekly: 5 }, now)
    expect(decisions.map((d) => d.reasons[0])).toEqual([
      'kept: weekly 2026-W02',
      'kept: weekly 2026-W01',
      'forgotten: matches no rule',
      'kept: weekly 2025-W52',
    ])
  })

  it('week 53 exists in long ISO years', () => {
    const decisions = applyRetention([snap('2026-12-31T12:00:00Z'), snap('2027-01-02T12:00:00Z')], { weekly: 9 }, now)
    expect(decisions.map((d) => d.reasons[0])).toEqual(['kept: weekly 2026-W53', 'forgotten: matches no rule'])
  })

  it('within keeps every snapshot younger than the span at now, and nothing older', () => {
    const all = twiceDaily('2026-02-25', 5)
    const decisions = applyRetention(all, { withinMs: 2 * 86_400_000 }, now)
    expect(kept(decisions)).toEqual([
      '2026-03-01T12:30:00.000Z',
      '2026-03-01T00:30:00.000Z',
      '2026-02-28T12:30:00.000Z',
      '2026-02-28T00:30:00.000Z',
      '2026-02-27T12:30:00.000Z',
    ])
    expect(decisions[0]!.reasons).toEqual(['kept: within 2d'])
    // Exactly at the edge counts as within.
    expect(applyRetention([snap('2026-02-27T12:00:00Z')], { withinMs: 2 * 86_400_000 }, now)[0]!.keep).toBe(true)
  })

  it('gives every reason when several rules keep one snapshot, and counts each bucket on its own', () => {
    const all = twiceDaily('2026-02-26', 3)
    const decisions = applyRetention(all, { last: 1, daily: 2, monthly: 1 }, now)
    expect(decisions[0]!.reasons).toEqual(['kept: last 1', 'kept: daily 2026-02-28', 'kept: monthly 2026-02'])
    expect(decisions[2]!.reasons).toEqual(['kept: daily 2026-02-27'])
    expect(kept(decisions)).toHaveLength(2)
  })

  it('a count of 0 keeps nothing; an empty list gives no decisions', () => {
    expect(kept(applyRetention(twiceDaily('2026-02-26', 2), { daily: 0, last: 0 }, now))).toEqual([])
    expect(applyRetention([], { daily: 3 }, now)).toEqual([])
  })

  it('30 daily snapshots with daily 7 and weekly 2: the 7 newest days and the week before', () => {
    const all: RetentionInput[] = []
    for (let d = 0; d < 30; d++) all.push(snap(new Date(at('2026-02-01T01:00:00Z') + d * 86_400_000).toISOString()))
    const decisions = applyRetention(all, { daily: 7, weekly: 2 }, now)
    // 03-02 is a Monday: the newest week (W10) and W09 are kept by weekly; W10's newest is also daily.
    expect(kept(decisions)).toEqual([
      '2026-03-02T01:00:00.000Z',
      '2026-03-01T01:00:00.000Z',
      '2026-02-28T01:00:00.000Z',
      '2026-02-27T01:00:00.000Z',
      '2026-02-26T01:00:00.000Z',
      '2026-02-25T01:00:00.000Z',
      '2026-02-24T01:00:00.000Z',
    ])
    expect(decisions[1]!.reasons).toEqual(['kept: daily 2026-03-01', 'kept: weekly 2026-W09'])
  })

  it('ties in time are ordered by id, so the decision does not depend on input order', () => {
    const a = snap('2026-02-01T00:00:00Z', 'a')
    const b = snap('2026-02-01T00:00:00Z', 'b')
    expect(kept(applyRetention([a, b], { daily: 1 }, now))).toEqual(['b'])
    expect(kept(applyRetention([b, a], { daily: 1 }, now))).toEqual(['b'])
  })
})

describe('formatSpan', () => {
  it('writes spans as the plan would', () => {
    expect(formatSpan(90 * 86_400_000)).toBe('90d')
    expect(formatSpan(36 * 3_600_000)).toBe('36h')
    expect(formatSpan(90_000)).toBe('90s')
    expect(formatSpan(1500)).toBe('1500ms')
  })
})
