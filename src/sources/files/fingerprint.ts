import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import type { Fingerprint } from '../source.js'
import { matchPathOrAncestor, type PathMatcher } from './pattern.js'
import { type WalkReport, walkTree } from './walk.js'

/**
 * Per top-level entry of the tree (a "table" per top-level directory or file): the entry
 * count and an order-independent hash (the lane-wise sum of each entry's SHA-256) of path,
 * type, mode, size, content SHA-256 and symlink target. Mtimes are left out: they say when,
 * not what. `only` keeps the entries matching those path patterns (as a partial restore does).
 */
export async function fingerprintFiles(root: string, excluded: PathMatcher, only?: string[]): Promise<Fingerprint> {
  const keep = only ? matchPathOrAncestor(only) : () => true
  const report: WalkReport = { vanished: [], skipped: [] }
  const lanes = new Map<string, { rows: number; lanes: Uint32Array }>()
  for await (const e of walkTree(root, excluded, report)) {
    if (!keep(e.path)) continue
    const content = e.type === 'file' ? await sha256File(join(root, e.path)) : ''
    const digest = createHash('sha256')
      .update(JSON.stringify([e.path, e.type, e.mode, e.size, content, e.target ?? null]))
      .digest()
    const table = e.path.split('/')[0]!
    const t = lanes.get(table) ?? { rows: 0, lanes: new Uint32Array(8) }
    lanes.set(table, t)
    for (let i = 0; i < 8; i++) t.lanes[i] = (t.lanes[i]! + digest.readUInt32BE(i * 4)) >>> 0
    t.rows++
  }
  const tables: Fingerprint['tables'] = {}
  for (const [name, t] of [...lanes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    tables[name] = { rows: t.rows, hash: Buffer.from(t.lanes.buffer).toString('hex') }
  }
  return { tables }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const part of createReadStream(path)) hash.update(part as Buffer)
  return hash.digest('hex')
}
