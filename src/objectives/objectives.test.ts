import { describe, expect, it } from 'vitest'
import { buildTimeline } from '../timeline/index.js'
import { assessFreshness, drillsDue, planCoverage, predictRto, subtractWindows } from './index.js'

const t = (iso: string) => Date.parse(iso)

describe('freshness', () => {
  it('measures the newest recoverable point against the RPO', () => {
    const timeline = buildTimeline({
      resource: 'app-db',
      snapshots: [{ id: 'a', time: t('2026-02-14T00:30:00Z') }],
      segments: [],
      heads: new Map(),
    })
    const now = t('2026-02-14T01:30:00Z')
    expect(assessFreshness(timeline, 3_600_000, now)).toMatchObject({ ageMs: 3_600_000, breached: false })
    expect(assessFreshness(timeline, 60_000, now)).toMatchObject({ newest: t('2026-02-14T00:30:00Z'), breached: true })
    expect(assessFreshness(timeline, undefined, now).breached).toBe(false)
    const empty = buildTimeline({ resource: 'x', snapshots: [], segments: [], heads: new Map() })
    expect(assessFreshness(empty, 60_000, now)).toEqual({ rpoMs: 60_000, breached: true })
  })
})

describe('coverage', () => {
  const daily = '30 0 * * *'
  const snap = (day: string, time = '00:31') => t(`2026-02-${day}T${time}:00Z`)

  it('names each day whose scheduled snapshot is missing', () => {
    const times = [snap('10'), snap('11'), snap('13'), snap('15')]
    const result = planCoverage(daily, times, { now: t('2026-02-15T12:00:00Z'), days: 30 })
    expect(result).toEqual({
      schedule: daily,
      from: '2026-02-10',
      to: '2026-02-15',
      missing: ['2026-02-12', '2026-02-14'],
    })
  })

  it('counts a late snapshot for its day, expects nothing before the first one, and waits for a run in progress', () => {
    const times = [snap('10'), snap('11', '23:59')]
    // 00:40 on the 12th: the 00:30 run is younger than the grace period.
    expect(planCoverage(daily, times, { now: t('2026-02-12T00:40:00Z'), days: 30 }).missing).toEqual([])
    expect(planCoverage(daily, times, { now: t('2026-02-12T03:00:00Z'), days: 30 }).missing).toEqual(['2026-02-12'])
  })

  it('looks back at most `days` days', () => {
    const times = [snap('01'), snap('15')]
    expect(planCoverage(daily, times, { now: t('2026-02-15T12:00:00Z'), days: 3 }).missing).toEqual([
      '2026-02-13',
      '2026-02-14',
    ])
  })

  it('checks only days on which the schedule runs', () => {
    // Mondays only: 2026-02-09 and 2026-02-16 are Mondays.
    const weekly = '0 1 * * 1'
    const result = planCoverage(weekly, [t('2026-02-09T01:05:00Z')], { now: t('2026-02-17T00:00:00Z'), days: 30 })
    expect(result.missing).toEqual(['2026-02-16'])
  })
})

describe('lost moments', () => {
  it('subtracts what is still recoverable from what was', () => {
    expect(subtractWindows([{ from: 0, to: 100 }], [{ from: 0, to: 40 }])).toEqual([{ from: 40, to: 100 }])
    expect(
      subtractWindows(
        [{ from: 0, to: 100 }],
        [
          { from: 20, to: 40 },
          { from: 60, to: 100 },
        ],
      ),
    ).toEqual([
      { from: 0, to: 20 },
      { from: 40, to: 60 },
    ])
    expect(
      subtractWindows(
        [
          { from: 5, to: 5 },
          { from: 9, to: 9 },
        ],
        [{ from: 9, to: 9 }],
      ),
    ).toEqual([{ from: 5, to: 5 }])
    expect(subtractWindows([{ from: 0, to: 10 }], [{ from: 0, to: 10 }])).toEqual([])
  })
})

describe('drills due', () => {
  it('dates the next run from the last one; a drill that never ran is due now', () => {
    const now = t('2026-05-01T00:00:00Z')
    const due = drillsDue(
      [
        { name: 'q', every: { kind: 'calendar', unit: 'quarter' } },
        { name: 'w', every: { kind: 'calendar', unit: 'week' } },
        { name: 'never', every: { kind: 'interval', ms: 3_600_000 } },
        { name: 'unscheduled' },
      ],
      new Map([
        ['q', t('2026-03-01T00:00:00Z')],
        ['w', t('2026-04-01T00:00:00Z')],
      ]),
      now,
    )
    expect(due.map((d) => [d.name, new Date(d.due).toISOString(), d.overdue])).toEqual([
      ['q', '2026-06-01T00:00:00.000Z', false],
      ['w', '2026-04-08T00:00:00.000Z', true],
      ['never', '2026-05-01T00:00:00.000Z', true],
    ])
  })
})

describe('predicted RTO', () => {
  it('scales the median measured throughput to the current size, or says nothing without a measurement', () => {
    const m = (time: number, bytes: number, ms: number) => ({ time, bytes, ms })
    expect(predictRto([m(1, 1000, 100), m(2, 1000, 200), m(3, 1000, 1000)], 4000)).toBe(800)
    expect(predictRto([], 4000)).toBeUndefined()
    expect(predictRto([m(1, 0, 10)], 4000)).toBeUndefined()
  })
})
