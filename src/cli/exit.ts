import { DrkitError, PlanError } from '../errors.js'

/** Exit statuses: the only place that knows them. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const

export function exitCodeOf(err: unknown): number {
  return err instanceof PlanError ? exitCodes.usage : exitCodes.failed
}

/** An error as `--json` prints it. */
export function errorDocument(err: unknown): { error: { code: string; message: string; hint?: string } } {
  if (err instanceof DrkitError) return { error: { code: err.code, message: err.message, hint: err.hint } }
  return {
    error: { code: 'internal', message: describe(err), hint: 'This looks like a bug in drkit: please report it.' },
  }
}

/** An error as a person reads it: what went wrong, then what to do. */
export function formatError(err: unknown): string {
  const { message, hint } = errorDocument(err).error
  const detail = process.env.DRKIT_DEBUG && err instanceof Error && err.stack ? `\n${err.stack}` : ''
  return `drkit: ${message}${hint ? `\n${hint}` : ''}${detail}`
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
