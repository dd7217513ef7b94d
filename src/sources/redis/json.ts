import { PlanError } from '../../errors.js'
import type { KeyRecord } from './codec.js'

/**
 * The portable JSON form: `[{"key", "type", "value", "ttl"}]`. Bytes that are valid UTF-8
 * are JSON strings; any other bytes are `{"base64": "..."}`. See docs/REDIS.md.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true })

type Bytes = string | { base64: string }

export function formatBytes(b: Buffer): Bytes {
  try {
    return utf8.decode(b)
  } catch {
    return { base64: b.toString('base64') }
  }
}

/** One entry as JSON text; `ttl` is what remained of the expiry at `asOf` (the snapshot's time). */
export function formatEntry(r: KeyRecord, asOf: number): string {
  let value: unknown
  if (r.type === 'string') value = formatBytes(r.value)
  else if (r.type === 'list' || r.type === 'set') value = r.value.map(formatBytes)
  else if (r.type === 'zset') value = r.value.map(([m, s]) => [formatBytes(m), formatScore(s)])
  else if (r.type === 'stream') {
    value = r.value.entries.map((e) => ({
      id: e.id,
      fields: e.fields.map(([f, v]) => [formatBytes(f), formatBytes(v)]),
    }))
  } else {
    const fields = (r.value as [Buffer, Buffer][]).map(([f, v]) => [formatBytes(f), formatBytes(v)] as const)
    // An object when every field is text, as such exports usually are; pairs otherwise.
    value = fields.every(([f]) => typeof f === 'string') ? Object.fromEntries(fields.map(([f, v]) => [f, v])) : fields
  }
  const ttl = r.expireAt === null ? null : Math.max(1, Math.round(r.expireAt - asOf))
  return JSON.stringify({ key: formatBytes(r.key), type: r.type, value, ttl })
}

function formatScore(s: string): number | string {
  const n = Number(s)
  return Number.isFinite(n) ? n : s.replace(/^\+/, '')
}

const nothingImported = 'Nothing was imported. Fix the file and run again.'

export interface ImportEntry {
  record: KeyRecord
  ttlMs: number | null
}

/** Every entry of an import file, checked; PlanError naming the first wrong entry and why. */
export function parseEntries(text: string, file: string): ImportEntry[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new PlanError(`${file} is not JSON: ${(err as Error).message}`, nothingImported)
  }
  if (!Array.isArray(doc)) {
    throw new PlanError(`${file}: expected an array of entries [{"key", "type", "value"}]`, nothingImported)
  }
  const seen = new Set<string>()
  return doc.map((entry, i) => {
    const fail = (why: string): never => {
      throw new PlanError(`${file}: entry ${i} is wrong: ${why}`, nothingImported)
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('it is not an object')
    const { key, type, value, ttl, ...rest } = entry as Record<string, unknown>
    const extra = Object.keys(rest)
    if (extra.length > 0) fail(`unknown field "${extra[0]}"`)
    const k = parseBytes(key, 'key', fail)
    const id = k.toString('base64')
    if (seen.has(id)) fail(`key "${k}" appears twice`)
    seen.add(id)
    if (ttl !== undefined && ttl !== null && !(Number.isInteger(ttl) && (ttl as number) > 0)) {
      fail('"ttl" must be a positive number of milliseconds, or null')
    }
    const base = { key: k, expireAt: null }
    const list = (what: string) => (Array.isArray(value) ? value : fail(`a ${what}'s "value" must be an array`))
    let record: KeyRecord
    if (type === 'string') record = { ...base, type, value: parseBytes(value, 'value', fail) }
    else if (type === 'list' || type === 'set') {
      record = { ...base, type, value: list(type).map((m, j) => parseBytes(m, `value[${j}]`, fail)) }
    } else if (type === 'zset') {
      record = {
        ...base,
        type,
        value: list(type).map((pair, j): [Buffer, string] => {
          if (!Array.isArray(pair) || pair.length !== 2) fail(`value[${j}] must be [member, score]`)
          return [parseBytes(pair[0], `value[${j}] member`, fail), parseScore(pair[1], j, fail)]
        }),
      }
    } else if (type === 'hash') {
      const pairs = Array.isArray(value)
        ? value
        : typeof value === 'object' && value !== null
          ? Object.entries(value)
          : fail('a hash\'s "value" must be an object or [field, value] pairs')
      record = {
        ...base,
        type,
        value: pairs.map((pair, j): [Buffer, Buffer] => {
          if (!Array.isArray(pair) || pair.length !== 2) fail(`value[${j}] must be [field, value]`)
          return [parseBytes(pair[0], `field ${j}`, fail), parseBytes(pair[1], `value of field ${j}`, fail)]
        }),
      }
    } else if (type === 'stream') {
      return fail('streams cannot be imported yet (only exported); leave them out of the file')
    } else return fail(`"type" must be one of string, hash, list, set, zset (got ${JSON.stringify(type)})`)
    if (Array.isArray(record.value) && record.value.length === 0) fail(`an empty ${type} cannot exist in Redis`)
    return { record, ttlMs: (ttl as number | null | undefined) ?? null }
  })
}

function parseBytes(v: unknown, what: string, fail: (why: string) => never): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (typeof v === 'object' && v !== null && typeof (v as { base64?: unknown }).base64 === 'string') {
    const text = (v as { base64: string }).base64
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) fail(`${what} is not valid base64`)
    return Buffer.from(text, 'base64')
  }
  return fail(`${what} must be a string or {"base64": "..."}`)
}

function parseScore(v: unknown, j: number, fail: (why: string) => never): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'string' && /^[+-]?inf$/i.test(v)) return v.toLowerCase()
  return fail(`value[${j}] score must be a number, "inf" or "-inf"`)
}
