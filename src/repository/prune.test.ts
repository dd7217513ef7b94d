import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IntegrityError, RefusedError } from '../errors.js'
import { type Backend, BackendError } from './backends/backend.js'
import { openMemoryBackend } from './backends/memory.js'
import { chunkPages } from './chunk/index.js'
import { keys } from './format.js'
import { Repository, type Snapshot, type SnapshotDraft } from './index.js'
import { prune } from './prune.js'

const draft: SnapshotDraft = {
  sourceType: 'test',
  position: { time: new Date(0).toISOString() },
  tables: [],
  details: {},
}

async function* from(data: Buffer): AsyncIterable<Uint8Array> {
  yield data
}

async function store(repo: Repository, data: Buffer): Promise<Snapshot> {
  return repo.write('db', async (w) => {
    const ref = await w.writeStream('main', { kind: 'pages', pageSize: 4096 }, chunkPages(from(data), 4096))
    return w.commitSnapshot(draft, [ref])
  })
}

async function read(repo: Repository, snapshot: Snapshot): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of repo.readStream(snapshot.streams[0]!, 'test')) parts.push(part)
  return Buffer.concat(parts)
}

async function objects(backend: Backend, prefix: string): Promise<string[]> {
  const found: string[] = []
  for await (const { key } of backend.list(prefix)) found.push(key)
  return found.sort()
}

/** The backend, with `hook` run before each put of a prune lock (between prune's two phases). */
function onPruneLock(backend: Backend, hook: () => Promise<void>): Backend {
  return {
    ...backend,
    list: (p, o) => backend.list(p, o),
    get: (k, o) => backend.get(k, o),
    async put(key, body, opts) {
      if (key.startsWith('locks/') && Buffer.from(body).toString().includes('"kind":"prune"')) await hook()
      return backend.put(key, body, opts)
    },
  }
}

/**
 * Two snapshots over random (incompressible) pages in small packs: `old` alone uses most
 * of its packs' pages; `kept` reuses every fourth page of `old` and adds pages of its own.
 * With `mixed`, `kept` reuses three pages of four in the second half of `old`, so that
 * some frames (16 pages) are mostly in use and copied as stored, others recompressed.
 */
async function setup(backend = openMemoryBackend(), opts: { mixed?: boolean; password?: string } = {}) {
  // With `mixed`, one pack holds all of `old`'s frames, so that the pack is worth repacking and both kinds of frame are in it.
  const packSize = opts.mixed ? 1024 * 1024 : 64 * 1024
  const repo = await Repository.init(backend, { packSize, password: opts.password })
  const a = randomBytes(4096 * 64)
  const old = await store(repo, a)
  const reused = (i: number) => (opts.mixed && i >= 32 ? i % 4 !== 0 : i % 4 === 0)
  const pages = Array.from({ length: 64 }, (_, i) =>
    reused(i) ? a.subarray(i * 4096, (i + 1) * 4096) : randomBytes(4096),
  )
  const b = Buffer.concat(pages)
  const kept = await store(repo, b)
  return { backend, repo, old, kept, b, forgetOld: { snapshots: [keys.snapshot('db', old.id)], segments: [] } }
}

describe('prune', () => {
  it('a dry run reports and changes nothing', async () => {
    const { backend, repo, forgetOld } = await setup()
    const before = await objects(backend, '')
    const result = await prune(repo, { ...forgetOld, dryRun: true })
    expect(result.packs.repacked).toBeGreaterThan(0)
    expect(await objects(backend, '')).toEqual(before)
  })

  it('repacks packs mostly unused, deletes the old ones, and the kept snapshot reads back exactly', async () => {
    const { backend, kept, b, forgetOld } = await setup()
    const repo = await Repository.open(backend)
    const packsBefore = (await objects(backend, 'data/')).length
    const result = await prune(repo, forgetOld)
    expect(result.packs.repacked).toBeGreaterThan(0)
    expect(result.blobs.repacked).toBe(16)
    expect(result.indexes.deleted).toBeGreaterThan(0)
    expect((await objects(backend, 'data/')).length).toBe(
      packsBefore - result.packs.deleted - result.packs.repacked + result.packs.written,
    )
    expect(await objects(backend, 'snapshots/')).toEqual([keys.snapshot('db', kept.id)])
    expect((await read(await Repository.open(backend), kept)).equals(b)).toBe(true)
    // Nothing is left to prune.
    const again = await prune(await Repository.open(backend), { snapshots: [], segments: [] })
    expect(again.packs).toMatchObject({ deleted: 0, repacked: 0, leftovers: 0 })
  })

  it('copies frames mostly in use as stored, recompresses the rest, in a plain and an encrypted repository', async () => {
    for (const password of [undefined, 'pw']) {
      const { backend, kept, b, forgetOld } = await setup(openMemoryBackend(), { mixed: true, password })
      const result = await prune(await Repository.open(backend, { password }), { ...forgetOld, maxUnused: 0 })
      expect(result.packs.repacked).toBeGreaterThan(0)
      // 8 pages of the first half and 24 of the second are still in use.
      expect(result.blobs.repacked).toBe(32)
      // The frames copied whole keep their 8 unused pages, counted as unused.
      expect(result.bytes.unusedAfter).toBe(8 * 4096)
      const repo = await Repository.open(backend, { password })
      expect((await read(repo, kept)).equals(b)).toBe(true)
      const again = await prune(repo, { snapshots: [], segments: [], maxUnused: 0 })
      expect(again.packs).toMatchObject({ deleted: 0, repacked: 0, leftovers: 0 })
      expect((await read(await Repository.open(backend, { password }), kept)).equals(b)).toBe(true)
    }
  })

  it('refuses, deleting nothing, when a pack it copies does not match its hash', async () => {
    const { backend, forgetOld } = await setup(openMemoryBackend(), { mixed: true })
    // Flip a byte in the middle of the first pack, inside a frame that is copied as stored.
    for (const key of await objects(backend, 'data/')) {
      const bytes = Buffer.from(await backend.get(key))
      bytes[Math.floor(bytes.length / 2)]! ^= 1
      await backend.put(key, bytes)
    }
    const before = await objects(backend, '')
    await expect(prune(await Repository.open(backend), { ...forgetOld, maxUnused: 0 })).rejects.toThrow(IntegrityError)
    const after = await objects(backend, '')
    for (const key of before) expect(after).toContain(key)
  })

  it('after an interrupted prune, repacking the same blobs again (same pack id) loses nothing', async () => {
    const memory = openMemoryBackend()
    const interrupted = onPruneLock(memory, async () => {
      throw new BackendError('transient', 'injected: the prune lock cannot be written')
    })
    const { kept, b, forgetOld } = await setup(interrupted)
    await expect(prune(await Repository.open(interrupted), forgetOld)).rejects.toThrow(/prune lock/)
    // The repacked copies and their index are there; the old packs and the snapshot too.
    const result = await prune(await Repository.open(memory), forgetOld)
    expect(result.packs.repacked).toBeGreaterThan(0)
    const repo = await Repository.open(memory)
    expect((await read(repo, kept)).equals(b)).toBe(true)
  })

  it('refuses, deleting nothing, when another prune rewrote index files in between', async () => {
    const memory = openMemoryBackend()
    let indexKey = ''
    const racing = onPruneLock(memory, async () => {
      // As another prune would: the index file is written again under another name, the old one deleted.
      const bytes = await memory.get(indexKey)
      await memory.put(`index/${'f'.repeat(64)}`, bytes)
      await memory.delete(indexKey)
    })
    const { forgetOld } = await setup(racing)
    indexKey = (await objects(memory, 'index/'))[0]!
    const before = (await objects(memory, '')).filter((k) => k !== indexKey)
    await expect(prune(await Repository.open(racing), forgetOld)).rejects.toThrow(RefusedError)
    const after = await objects(memory, '')
    for (const key of before) expect(after).toContain(key)
  })

  it('refuses when an index file is damaged: its packs would look unused', async () => {
    const { backend, forgetOld } = await setup()
    const [key] = await objects(backend, 'index/')
    await backend.put(key!, Buffer.from('damaged'))
    const before = await objects(backend, '')
    await expect(prune(await Repository.open(backend), forgetOld)).rejects.toThrow(IntegrityError)
    expect(await objects(backend, '')).toEqual(before)
  })
})
