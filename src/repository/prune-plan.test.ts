import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { choosePacks, type PackUsage } from './prune-plan.js'
import { BlobTable, indexed, isList, referenced } from './prune-table.js'

const pack = (id: string, rawBytes: number, usedRawBytes: number, reclaimable: number): PackUsage => ({
  id,
  indexes: new Set(),
  blobs: 1,
  usedBlobs: usedRawBytes > 0 ? 1 : 0,
  rawBytes,
  usedRawBytes,
  reclaimable,
})

describe('choosePacks', () => {
  const usage = [
    pack('empty', 100, 0, 100),
    pack('full', 100, 100, 0),
    pack('mostly-garbage', 100, 10, 90),
    pack('half', 100, 50, 40),
    pack('little', 100, 90, 5),
  ]

  it('drops packs with nothing in use and repacks those that free the most first, down to the budget', () => {
    expect(choosePacks(usage, 0)).toMatchObject({
      drop: new Set(['empty']),
      move: new Set(['mostly-garbage', 'half', 'little']),
    })
    // Used: 250; 20% unused allows 62.5 reclaimable: repacking the best pack leaves 45.
    expect(choosePacks(usage, 0.2).move).toEqual(new Set(['mostly-garbage']))
    expect(choosePacks(usage, 0.5).move).toEqual(new Set())
  })

  it('counts what stays unused: in packs kept as they are, and in frames copied whole', () => {
    // Unused outside 'empty': 90 + 50 + 10; repacking all frees 135 of it.
    expect(choosePacks(usage, 0).unusedAfter).toBe(15)
    expect(choosePacks(usage, 1).unusedAfter).toBe(150)
  })
})

describe('BlobTable', () => {
  it('keeps flags per blob id in typed arrays, growing past its first size', () => {
    const table = new BlobTable(16)
    const ids = Array.from({ length: 5000 }, () => randomBytes(32))
    for (const id of ids) expect(table.add(id, 0, referenced)).toBe(false)
    expect(table.add(ids[7]!, 0, isList)).toBe(true)
    expect(table.size).toBe(5000)
    expect(table.get(ids[7]!, 0)).toBe(referenced | isList)
    expect(table.get(randomBytes(32), 0)).toBe(0)
    table.flag(ids[0]!, 0, indexed)
    expect(table.countWithout(indexed)).toBe(4999)
  })

  it('reads an id anywhere in a buffer (a chunk list, an index entry)', () => {
    const table = new BlobTable()
    const list = randomBytes(32 * 4)
    table.add(list, 64, referenced)
    expect(table.get(Buffer.from(list.subarray(64, 96)), 0)).toBe(referenced)
    expect(table.get(list, 32)).toBe(0)
  })
})
