import type { RedisClient } from './client.js'

/** Whether key matches a Redis glob pattern (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes), as KEYS and SCAN do. */
export function matchesPattern(pattern: string, key: Buffer): boolean {
  const p = Buffer.from(pattern, 'utf8')
  const match = (pi: number, ki: number): boolean => {
    while (pi < p.length) {
      const c = p[pi]!
      if (c === 0x2a) {
        while (p[pi + 1] === 0x2a) pi++
        if (pi + 1 === p.length) return true
        for (let k = ki; k <= key.length; k++) if (match(pi + 1, k)) return true
        return false
      }
      if (ki >= key.length) return false
      if (c === 0x3f) {
        pi++
        ki++
        continue
      }
      if (c === 0x5b) {
        const end = classEnd(p, pi)
        if (end > 0) {
          if (!inClass(p.subarray(pi + 1, end), key[ki]!)) return false
          pi = end + 1
          ki++
          continue
        }
      }
      const literal = c === 0x5c && pi + 1 < p.length ? p[++pi]! : c
      if (literal !== key[ki]) return false
      pi++
      ki++
    }
    return ki === key.length
  }
  return match(0, 0)
}

function classEnd(p: Buffer, start: number): number {
  for (let i = start + 1; i < p.length; i++) {
    if (p[i] === 0x5c) i++
    else if (p[i] === 0x5d) return i
  }
  return -1
}

function inClass(cls: Buffer, b: number): boolean {
  const negate = cls[0] === 0x5e
  let found = false
  for (let i = negate ? 1 : 0; i < cls.length; i++) {
    let lo = cls[i]!
    if (lo === 0x5c && i + 1 < cls.length) lo = cls[++i]!
    if (cls[i + 1] === 0x2d && i + 2 < cls.length) {
      const hi = cls[i + 2]!
      if (b >= Math.min(lo, hi) && b <= Math.max(lo, hi)) found = true
      i += 2
    } else if (lo === b) found = true
  }
  return negate ? !found : found
}

/**
 * Keys matching any of the patterns (all keys without), one SCAN batch (COUNT 1000) at a
 * time. A key matching several patterns comes from the first one only. SCAN itself may
 * return a key twice (while Redis rehashes); consumers tolerate that.
 */
export async function* scanKeys(client: RedisClient, patterns: string[] | undefined): AsyncIterable<Buffer[]> {
  const list = patterns && patterns.length > 0 ? patterns : ['*']
  for (const [i, pattern] of list.entries()) {
    let cursor = '0'
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next.toString()
      const fresh = keys.filter((k) => !list.slice(0, i).some((earlier) => matchesPattern(earlier, k)))
      if (fresh.length > 0) yield fresh
    } while (cursor !== '0')
  }
}
