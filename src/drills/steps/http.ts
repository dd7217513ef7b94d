import { DrkitError } from '../../errors.js'
import type { Step } from './step.js'

/** Requests a URL and checks the status and a subset of the JSON body. */
export const httpStep: Step<'http'> = {
  kind: 'http',
  defaultTimeoutMs: () => 30_000,
  title: (spec) => `${spec.method} ${spec.url}`,
  async run(spec, ctx) {
    let response: Response
    try {
      response = await fetch(spec.url, { method: spec.method, body: spec.body, signal: ctx.signal })
    } catch (err) {
      if (ctx.signal.aborted) throw err
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new DrkitError(`${spec.url} cannot be reached (${cause?.code ?? cause?.message ?? (err as Error).message})`)
    }
    const text = await response.text()
    const { status, json } = spec.expect
    if (status !== undefined && response.status !== status) {
      throw new DrkitError(`expected status ${status}, got ${response.status}: ${text.slice(0, 200)}`)
    }
    if (json !== undefined) {
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new DrkitError(`expected a JSON body containing ${JSON.stringify(json)}, got: ${text.slice(0, 200)}`)
      }
      const mismatch = findMismatch(json, body, '$')
      if (mismatch) throw new DrkitError(`the JSON body does not match: ${mismatch}`)
    }
    return `${response.status}${json !== undefined ? `, body contains ${JSON.stringify(json)}` : ''}`
  },
}

/**
 * Where `actual` fails to contain `expected`: objects key by key (extra keys allowed),
 * arrays and scalar values exactly. Undefined when it contains it.
 */
export function findMismatch(expected: unknown, actual: unknown, path: string): string | undefined {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return `${path} is ${JSON.stringify(actual)}, expected an object`
    for (const [key, value] of Object.entries(expected)) {
      const found = findMismatch(value, (actual as Record<string, unknown>)[key], `${path}.${key}`)
      if (found) return found
    }
    return undefined
  }
  if (JSON.stringify(expected) === JSON.stringify(actual)) return undefined
  return `${path} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`
}
