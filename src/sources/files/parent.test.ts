import { describe, expect, test } from 'vitest'
import type { ParentImage } from '../source.js'
import { unchangedSince } from './parent.js'
import { formatTreeLine, type TreeEntry } from './tree.js'
import type { WalkedEntry } from './walk.js'

const stored: TreeEntry = {
  path: 'a.txt',
  type: 'file',
  mode: 0o644,
  mtimeNs: '1700000000123456789',
  size: 4,
  ctimeNs: '1700000000223456789',
  ino: '42',
}
const walked: WalkedEntry = { ...stored, ino: 42n, ctimeNs: stored.ctimeNs! }

function parent(entries: TreeEntry[], details: ParentImage['details'] = {}, streams = ['tree', 'file:a.txt']) {
  const listing = [formatTreeLine({ drkitTree: 1, mode: 0o755, mtimeNs: '0' }), ...entries.map(formatTreeLine)]
  const image: ParentImage = {
    id: 'p',
    details,
    has: (name) => streams.includes(name),
    async *read() {
      yield Buffer.from(listing.join(''))
    },
  }
  return image
}

describe('unchangedSince', () => {
  test('a file with the same size, mtime, ctime and inode is unchanged', async () => {
    const unchanged = await unchangedSince(parent([stored]))
    expect(unchanged(walked)).toBe(true)
  })

  test.each([
    ['size', { size: 5 }],
    ['mtime', { mtimeNs: '1700000000123456790' }],
    ['ctime', { ctimeNs: '1700000000223456790' }],
    ['inode', { ino: 43n }],
    ['path', { path: 'b.txt' }],
  ])('a different %s means changed', async (_, change) => {
    const unchanged = await unchangedSince(parent([stored]))
    expect(unchanged({ ...walked, ...change })).toBe(false)
  })

  test('nothing is trusted without a parent, a stored content stream, ctime and inode', async () => {
    expect((await unchangedSince(undefined))(walked)).toBe(false)
    expect((await unchangedSince(parent([stored], {}, ['tree'])))(walked)).toBe(false)
    const { ctimeNs: _c, ino: _i, ...old } = stored
    expect((await unchangedSince(parent([old])))(walked)).toBe(false)
  })

  test('a file the parent saw change while reading it is read again', async () => {
    const named = await unchangedSince(parent([stored], { changedFiles: 1, changedPaths: '["a.txt"]' }))
    expect(named(walked)).toBe(false)
    const tooMany = await unchangedSince(parent([stored], { changedFiles: 101, changedPaths: '[]' }))
    expect(tooMany(walked)).toBe(false)
  })
})
