import { describe, expect, test } from 'vitest'
import { parseSnapshot, visibleIn } from './align.js'

describe('transaction visibility in a snapshot', () => {
  test('committed before xmin, or below xmax and not in progress, is visible', () => {
    const s = parseSnapshot('100:110:103,107')
    expect(visibleIn(s, 99)).toBe(true)
    expect(visibleIn(s, 101)).toBe(true)
    expect(visibleIn(s, 103)).toBe(false)
    expect(visibleIn(s, 107)).toBe(false)
    expect(visibleIn(s, 110)).toBe(false)
    expect(visibleIn(s, 200)).toBe(false)
  })

  test('32-bit xids are widened with the snapshot epoch, across a wraparound', () => {
    const epoch = 1n << 32n
    const s = parseSnapshot(`${epoch + 5n}:${epoch + 9n}:`)
    expect(visibleIn(s, 6)).toBe(true)
    expect(visibleIn(s, 9)).toBe(false)
    // Just below the wrap: an xid of the previous epoch, long committed.
    expect(visibleIn(s, 0xffff_fff0)).toBe(true)
    // Just after the wrap, seen from the epoch before: a transaction started after the snapshot.
    const late = parseSnapshot(`${epoch - 10n}:${epoch - 4n}:`)
    expect(visibleIn(late, 3)).toBe(false)
    expect(visibleIn(late, 0xffff_fff0)).toBe(true)
  })
})
