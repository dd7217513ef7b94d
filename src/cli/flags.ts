import { PlanError } from '../errors.js'
import { parseDuration } from '../plan/duration.js'

/** A duration flag (`--wait 30s`) in milliseconds; bad input is a usage error. */
export function durationFlag(name: string, value: string | boolean | undefined): number | undefined {
  if (typeof value !== 'string') return undefined
  const ms = parseDuration(value)
  if (ms === undefined)
    throw new PlanError(`--${name}: "${value}" is not a duration`, 'Use for example 500ms, 5s or 15m.')
  return ms
}

export function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** The one positional a command needs, or a usage error naming it. */
export function requiredPositional(positionals: string[], what: string, usage: string): string {
  const value = positionals[0]
  if (!value) throw new PlanError(`missing ${what}`, `Usage: ${usage}`)
  if (positionals.length > 1) throw new PlanError(`unexpected argument "${positionals[1]}"`, `Usage: ${usage}`)
  return value
}
