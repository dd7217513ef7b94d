import * as z from './zod.js'

const UNIT_MS = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const
type Unit = keyof typeof UNIT_MS

/**
 * Milliseconds of a duration such as `500ms`, `5s`, `15m`, `24h`, `7d`, `2w` or `1h30m`
 * (units from largest to smallest, each once); undefined for anything else. Plain numbers
 * are rejected: `30` could mean seconds or minutes.
 */
export function parseDuration(text: string): number | undefined {
  const part = /(\d+)(ms|w|d|h|m|s)/y
  let ms = 0
  let previous = Number.POSITIVE_INFINITY
  while (part.lastIndex < text.length) {
    const match = part.exec(text)
    if (!match) return undefined
    const size = UNIT_MS[match[2] as Unit]
    if (size >= previous) return undefined
    previous = size
    ms += Number(match[1]) * size
  }
  return text !== '' && Number.isSafeInteger(ms) ? ms : undefined
}

/** The shortest readable form of a duration: `90000` → `1m30s`, `1209600000` → `2w`. */
export function formatDuration(ms: number): string {
  if (ms < 0) return '-' + formatDuration(-ms)
  let rest = Math.round(ms)
  let text = ''
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const count = Math.floor(rest / UNIT_MS[unit])
    rest -= count * UNIT_MS[unit]
    if (count === 0) continue
    // Weeks only when they are exact: `10d` reads better than `1w3d`.
    text += unit === 'd' && count % 7 === 0 ? `${count / 7}w` : `${count}${unit}`
  }
  return text || '0s'
}

export type CalendarUnit = 'day' | 'week' | 'month' | 'quarter' | 'year'

/** How often a drill is due: once per calendar unit, or after a fixed interval. */
export type Every = { kind: 'calendar'; unit: CalendarUnit } | { kind: 'interval'; ms: number }

const CALENDAR: Record<string, CalendarUnit> = {
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
  quarterly: 'quarter',
  yearly: 'year',
}

/** `daily`, `weekly`, `monthly`, `quarterly`, `yearly` or a positive duration; undefined for anything else. */
export function parseEvery(text: string): Every | undefined {
  const unit = Object.hasOwn(CALENDAR, text) ? CALENDAR[text] : undefined
  if (unit) return { kind: 'calendar', unit }
  const ms = parseDuration(text)
  // A zero interval would make a drill due all the time.
  return ms ? { kind: 'interval', ms } : undefined
}

const CALENDAR_MONTHS = { month: 1, quarter: 3, year: 12 } as const

/**
 * When a drill last run at `last` is due again. Months are calendar months in UTC, kept within
 * the month: Jan 31 + 1 month = Feb 28 (or 29).
 */
export function nextDue(every: Every, last: Date): Date {
  if (every.kind === 'interval') return new Date(last.getTime() + every.ms)
  if (every.unit === 'day' || every.unit === 'week')
    return new Date(last.getTime() + UNIT_MS[every.unit === 'day' ? 'd' : 'w'])
  const next = new Date(last)
  const day = next.getUTCDate()
  next.setUTCDate(1)
  next.setUTCMonth(next.getUTCMonth() + CALENDAR_MONTHS[every.unit])
  const daysInMonth = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate()
  next.setUTCDate(Math.min(day, daysInMonth))
  return next
}

/** A zod schema for a string that `parse` accepts, transformed to what it returns. */
function parsedString<T>(parse: (text: string) => T | undefined, what: string) {
  const message = (input: unknown) => `${JSON.stringify(input)} is not ${what}`
  // Missing values are left to the caller's error map ("required"), so only present inputs get this message.
  return z
    .string({ error: (issue) => (issue.input === undefined ? undefined : message(issue.input)) })
    .transform((text, ctx) => {
      const value = parse(text)
      if (value === undefined) ctx.addIssue({ code: 'custom', message: message(text) })
      return value ?? z.NEVER
    })
}

/** A duration in the plan, as milliseconds. */
export const durationSchema = parsedString(parseDuration, 'a duration (use for example 500ms, 5s, 15m, 24h or 7d)')

/** A drill's `every`. */
export const everySchema = parsedString(
  parseEvery,
  'a drill schedule (use daily, weekly, monthly, quarterly, yearly or a duration such as 12h)',
)
