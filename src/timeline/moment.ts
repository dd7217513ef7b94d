import { PlanError } from '../errors.js'
import { parseDuration } from '../plan/duration.js'

/**
 * A moment as users write it: ISO 8601 (`2026-02-27T10:00:00Z`) or relative to now
 * (`-15m`, `-2h30m`). Returns ms since the epoch.
 */
export function parseMoment(text: string, now = Date.now()): number {
  const trimmed = text.trim()
  if (trimmed.startsWith('-')) {
    const ago = parseDuration(trimmed.slice(1))
    if (ago !== undefined) return now - ago
  } else if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const ms = Date.parse(trimmed)
    if (!Number.isNaN(ms)) return ms
  }
  throw new PlanError(
    `"${text}" is not a moment`,
    'Use ISO 8601 such as 2026-02-27T10:00:00Z, or a time relative to now such as -15m.',
  )
}
