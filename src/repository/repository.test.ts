import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IntegrityError, LockedError, NotFoundError, RefusedError } from '../errors.js'
import { type Backend, BackendError } from './backends/backend.js'
import { openMemoryBackend } from './backends/memory.js'
import { chunkPages, chunkStream } from './chunk/index.js'
import { keys } from './format.js'
import { Repository, type SnapshotDraft } from './index.js'

const draft: SnapshotDraft = {
  sourceType: 'test',
  position: { time: new Date(0).toISOString() },
  tables: [],
  details: {},
}

async function* from(...buffers: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* buffers
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of stream) parts.push(part)
  return Buffer.concat(parts)
}

async function storePages(repo: Repository, resource: string, data: Buffer) {
  return repo.write(resource, async (w) => {
    const ref = await w.writeStream('main', { kind: 'pages', pageSize: 4096 }, chunkPages(from(data), 4096))
    return w.commitSnapshot(draft, [ref])
  })
}

/** A backend whose puts to keys under `prefix` fail, as a full disk would. */
function failingPuts(backend: Backend, prefix: string): Backend {
  return {
    ...backend,
    list: (p, o) => backend.list(p, o),
    get: (k, o) => backend.get(k, o),
    async put(key, body, opts) {
      if (key.startsWith(prefix)) throw new BackendError('no-space', 'the disk is full')
      return backend.put(key, body, opts)
    },
  }
}

describe('Repository', () => {
  it('stores streams and reads them back exactly, page-aligned and content-defined', async () => {
    const repo = await Repository.init(openMemoryBackend(), { packSize: 256 * 1024 })
    const pages = randomBytes(4096 * 300)
    const stream = randomBytes(3 * 1024 * 1024 + 17)
    const snapshot = await repo.write('db', async (w) => {
      const a = await w.writeStream('pages', { kind: 'pages', pageSize: 4096 }, chunkPages(from(pages), 4096))
      const b = await w.writeStream('cdc', { kind: 'cdc' }, chunkStream(from(stream), { min: 64, avg: 256, max: 4096 }))
      return w.commitSnapshot(draft, [a, b])
    })
    const [found] = await repo.listSnapshots('db')
    expect(found?.id).toBe(snapshot.id)
    expect((await collect(repo.readStream(found!.streams[0]!, 'test'))).equals(pages)).toBe(true)
    expect((await collect(repo.readStream(found!.streams[1]!, 'test'))).equals(stream)).toBe(true)
    expect(snapshot.stats.size).toBe(pages.length + stream.length)
  })

  it('stores an unchanged image once, and only the changed pages of a changed one', async () => {
    const repo = await Repository.init(openMemoryBackend())
    const data = randomBytes(4096 * 1000)
    const first = await storePages(repo, 'db', data)
    const second = await storePages(repo, 'db', data)
    expect(second.stats.newBytes).toBe(0)
    randomBytes(4096).copy(data, 4096 * 500)
    const third = await storePages(repo, 'db', data)
    expect(third.stats.newChunks).toBe(2) // the page and the one list blob that names it
    expect(first.stats.newBytes).toBeGreaterThanOrEqual(data.length)
    const reopened = await Repository.open(repo.backend)
    expect((await collect(reopened.readStream(third.streams[0]!, 'test'))).equals(data)).toBe(true)
  })

  it('stores a page repeated across runs and chunk lists once, and reads back every repeat', async () => {
    const repo = await Repository.init(openMemoryBackend(), { packSize: 1024 * 1024 })
    // 6000 pages: more than a run (4 MiB) and a chunk list (4096 ids); every third page is zeros.
    const data = randomBytes(4096 * 6000)
    for (let page = 0; page < 6000; page += 3) data.fill(0, page * 4096, (page + 1) * 4096)
    const snapshot = await storePages(repo, 'db', data)
    expect(snapshot.stats.chunks).toBe(6000)
    expect(snapshot.stats.newChunks).toBe(4000 + 1 + 2) // the distinct pages, one of zeros, two lists
    const reopened = await Repository.open(repo.backend)
    expect((await collect(reopened.readStream(snapshot.streams[0]!, 'test'))).equals(data)).toBe(true)
  })

  it('reads an empty stream back as empty', async () => {
    const repo = await Repository.init(openMemoryBackend())
    const snapshot = await storePages(repo, 'db', Buffer.alloc(0))
    expect((await collect(repo.readStream(snapshot.streams[0]!, 'test'))).equals(Buffer.alloc(0))).toBe(true)
  })

  it('makes nothing visible when a put fails before the manifest is stored', async () => {
    for (const prefix of ['data/', 'index/', 'snapshots/']) {
      const backend = openMemoryBackend()
      await Repository.init(backend)
      const repo = await Repository.open(failingPuts(backend, prefix))
      await expect(storePages(repo, 'db', randomBytes(4096 * 10))).rejects.toThrow(/disk is full/)
      const healthy = await Repository.open(backend)
      expect(await healthy.listSnapshots()).toEqual([])
      // The lock was released: the next backup goes through.
      await storePages(healthy, 'db', randomBytes(4096 * 10))
      expect(await healthy.listSnapshots('db')).toHaveLength(1)
    }
  })

  it('finds damage when a chunk is read', async () => {
    const backend = openMemoryBackend()
    const repo = await Repository.init(backend)
    const snapshot = await storePages(repo, 'db', randomBytes(4096 * 4))
    for await (const { key } of backend.list(keys.packPrefix)) {
      const bytes = Buffer.from(await backend.get(key))
      bytes[10] = bytes[10]! ^ 0x01
      await backend.put(key, bytes)
    }
    const reopened = await Repository.open(backend)
    await expect(collect(reopened.readStream(snapshot.streams[0]!, 'test'))).rejects.toThrow(IntegrityError)
  })

  it('finds snapshots by id prefix and says which are missing', async () => {
    const repo = await Repository.init(openMemoryBackend())
    const snapshot = await storePages(repo, 'db', randomBytes(4096))
    expect((await repo.findSnapshot('db', snapshot.id.slice(0, 8))).id).toBe(snapshot.id)
    expect((await repo.findSnapshot('db')).id).toBe(snapshot.id)
    await expect(repo.findSnapshot('db', 'ffffffff')).rejects.toThrow(NotFoundError)
    await expect(repo.findSnapshot('other')).rejects.toThrow(/no snapshots yet/)
  })

  it('refuses to create a repository twice and says when there is none', async () => {
    const backend = openMemoryBackend()
    await Repository.init(backend)
    await expect(Repository.init(backend)).rejects.toThrow(RefusedError)
    await expect(Repository.open(openMemoryBackend())).rejects.toThrow(NotFoundError)
  })

  it('lets one writer per resource in, and any number of readers', async () => {
    const repo = await Repository.init(openMemoryBackend())
    const held = await repo.lock('db', 'write')
    await expect(repo.lock('db', 'write')).rejects.toThrow(LockedError)
    const other = await repo.lock('other', 'write')
    const reader = await repo.lock('db', 'read')
    await expect(repo.lock('*', 'exclusive')).rejects.toThrow(/locked by/)
    await Promise.all([held.release(), other.release(), reader.release()])
    const exclusive = await repo.lock('*', 'exclusive')
    await expect(repo.lock('db', 'read')).rejects.toThrow(LockedError)
    await exclusive.release()
  })

  it('ignores and removes a lock whose heartbeat is old or whose process is gone', async () => {
    const backend = openMemoryBackend()
    const repo = await Repository.init(backend)
    const old = new Date(Date.now() - 3_600_000).toISOString()
    const stale = { resource: 'db', kind: 'write', host: 'elsewhere', pid: 1, command: 'backup db', created: old }
    await backend.put(keys.lock('stale-heartbeat'), Buffer.from(JSON.stringify({ ...stale, refreshed: old })))
    const dead = { ...stale, host: (await import('node:os')).hostname(), pid: 2 ** 22 + 7, refreshed: new Date() }
    await backend.put(keys.lock('dead-process'), Buffer.from(JSON.stringify(dead)))
    const lock = await repo.lock('db', 'write')
    await lock.release()
    const left: string[] = []
    for await (const { key } of backend.list(keys.lockPrefix)) left.push(key)
    expect(left).toEqual([])
  })
})
