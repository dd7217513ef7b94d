import { describe, expect, it } from 'vitest'
import { durationSchema, everySchema, formatDuration, nextDue, parseDuration, parseEvery } from './duration.js'

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each([
    '',
    '5',
    '300',
    '5 s',
    ' 5s',
    '5sec',
    '1.5h',
    '-5s',
    '+5s',
    '5S',
    's',
    'ms5',
    '30m1h',
    '5m5m',
    '1h30',
    '9'.repeat(20) + 'd',
  ])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [5000, '5s'],
    [1500, '1s500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [86_400_000, '1d'],
    [604_800_000, '1w'],
    [1_209_600_000, '2w'],
    [864_000_000, '10d'],
    [-5000, '-5s'],
  ])('writes %d as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
    expect(parseDuration(text.replace(/^-/, ''))).toBe(Math.abs(ms))
  })
})

describe('parseEvery', () => {
  it('reads calendar units and intervals', () => {
    expect(parseEvery('daily')).toEqual({ kind: 'calendar', unit: 'day' })
    expect(parseEvery('weekly')).toEqual({ kind: 'calendar', unit: 'week' })
    expect(parseEvery('monthly')).toEqual({ kind: 'calendar', unit: 'month' })
    expect(parseEvery('quarterly')).toEqual({ kind: 'calendar', unit: 'quarter' })
    expect(parseEvery('yearly')).toEqual({ kind: 'calendar', unit: 'year' })
    expect(parseEvery('12h')).toEqual({ kind: 'interval', ms: 43_200_000 })
  })

  it.each(['fortnightly', 'Daily', '0s', '', '12', 'constructor'])('rejects %j', (text) => {
    expect(parseEvery(text)).toBeUndefined()
  })
})

describe('nextDue', () => {
  const at = (iso: string) => new Date(iso)

  it('adds a calendar unit', () => {
    const last = at('2026-01-15T10:00:00Z')
    expect(nextDue({ kind: 'calendar', unit: 'day' }, last)).toEqual(at('2026-01-16T10:00:00Z'))
    expect(nextDue({ kind: 'calendar', unit: 'week' }, last)).toEqual(at('2026-01-22T10:00:00Z'))
    expect(nextDue({ kind: 'calendar', unit: 'month' }, last)).toEqual(at('2026-02-15T10:00:00Z'))
    expect(nextDue({ kind: 'calendar', unit: 'quarter' }, last)).toEqual(at('2026-04-15T10:00:00Z'))
    expect(nextDue({ kind: 'calendar', unit: 'year' }, last)).toEqual(at('2027-01-15T10:00:00Z'))
  })

  it('keeps to the end of shorter months', () => {
    expect(nextDue({ kind: 'calendar', unit: 'month' }, at('2026-01-31T00:00:00Z'))).toEqual(at('2026-02-28T00:00:00Z'))
    expect(nextDue({ kind: 'calendar', unit: 'quarter' }, at('2025-11-30T00:00:00Z'))).toEqual(
      at('2026-02-28T00:00:00Z'),
    )
    expect(nextDue({ kind: 'calendar', unit: 'year' }, at('2024-02-29T00:00:00Z'))).toEqual(at('2025-02-28T00:00:00Z'))
  })

  it('adds an interval', () => {
    expect(nextDue({ kind: 'interval', ms: 5_400_000 }, at('2026-01-15T23:00:00Z'))).toEqual(at('2026-01-16T00:30:00Z'))
  })
})

describe('schemas', () => {
  it('turns a duration into milliseconds', () => {
    expect(durationSchema.parse('1h30m')).toBe(5_400_000)
  })

  it('names the bad duration and gives examples', () => {
    const result = durationSchema.safeParse('5 sekonds')
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      '"5 sekonds" is not a duration (use for example 500ms, 5s, 15m, 24h or 7d)',
    ])
    expect(durationSchema.safeParse(5).error?.issues[0]?.message).toBe(
      '5 is not a duration (use for example 500ms, 5s, 15m, 24h or 7d)',
    )
  })

  it('reads a drill schedule', () => {
    expect(everySchema.parse('quarterly')).toEqual({ kind: 'calendar', unit: 'quarter' })
    expect(everySchema.safeParse('fortnightly').error?.issues[0]?.message).toMatch(
      /^"fortnightly" is not a drill schedule/,
    )
  })
})
