import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IdTable } from './id-table.js'

const id = (n: number) => createHash('sha256').update(String(n)).digest()

describe('IdTable', () => {
  it('numbers ids in the order they are added, finds each exactly, and knows what it lacks', () => {
    const table = new IdTable()
    const n = 50_000
    for (let i = 0; i < n; i++) expect(table.add(id(i))).toEqual({ slot: i, added: true })
    expect(table.size).toBe(n)
    for (let i = 0; i < n; i += 7) {
      expect(table.slotOf(id(i))).toBe(i)
      expect(table.hexOf(i)).toBe(id(i).toString('hex'))
    }
    expect(table.add(id(123))).toEqual({ slot: 123, added: false })
    expect(table.size).toBe(n)
    for (let i = n; i < n + 1000; i++) expect(table.slotOf(id(i))).toBe(-1)
  })

  it('reads ids at an offset, and tells apart ids that share their first bytes', () => {
    const table = new IdTable()
    const a = Buffer.alloc(32, 1)
    const b = Buffer.from(a)
    b[31] = 2
    const packed = Buffer.concat([Buffer.alloc(5), a, b])
    expect(table.add(packed, 5).slot).toBe(0)
    expect(table.add(packed, 37).slot).toBe(1)
    expect(table.slotOf(b)).toBe(1)
    expect(table.slotOf(a)).toBe(0)
    table.clear()
    expect(table.size).toBe(0)
    expect(table.slotOf(a)).toBe(-1)
  })
})
