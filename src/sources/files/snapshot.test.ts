import { describe, expect, it } from 'vitest'
import { readAhead } from './snapshot.js'
import type { WalkedEntry } from './walk.js'

const file = (path: string, size: number, reuse = false) => ({
  entry: { path, size, type: 'file' } as WalkedEntry,
  reuse,
})

describe('readAhead', () => {
  it('reads each small, changed file once, ahead of its turn, and leaves large and reused files alone', async () => {
    const files = [
      file('a', 10),
      ...Array.from({ length: 100 }, (_, k) => file(`s${k}`, 1000)),
      file('big', 64 * 1024 * 1024),
      file('same', 10, true),
      file('z', 5),
    ]
    const reads: string[] = []
    const ahead = readAhead(files, async (entry) => {
      reads.push(entry.path)
      return [Buffer.from(entry.path)]
    })
    const given: (string | undefined)[] = []
    for (const k of files.keys()) {
      const before = reads.length
      const read = ahead(k)
      given.push(read ? Buffer.concat(await read).toString() : undefined)
      // Never more than the window ahead of the file whose turn it is.
      expect(reads.length - before).toBeLessThanOrEqual(32)
      if (k > 0) expect(reads.length).toBeGreaterThan(Math.min(k, 100))
    }
    expect(reads).toEqual(files.filter((f, k) => k > 0 && !f.reuse && f.entry.size < 1 << 20).map((f) => f.entry.path))
    expect(given).toEqual(files.map((f, k) => (k > 0 && !f.reuse && f.entry.size < 1 << 20 ? f.entry.path : undefined)))
  })

  it('keeps at most 8 MiB read ahead', () => {
    const files = Array.from({ length: 40 }, (_, k) => file(`m${k}`, 1024 * 1024))
    let reads = 0
    const ahead = readAhead(files, async () => {
      reads++
      return []
    })
    ahead(0)
    expect(reads).toBe(8)
  })
})
