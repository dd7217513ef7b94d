import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IntegrityError, PlanError, RefusedError } from '../../errors.js'
import { openMemoryBackend } from '../backends/memory.js'
import { chunkPages } from '../chunk/index.js'
import { keys } from '../format.js'
import { Repository, type SnapshotDraft } from '../index.js'
import { readPackEntries } from '../pack.js'

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

async function storePages(repo: Repository, data: Buffer) {
  return repo.write('db', async (w) => {
    const ref = await w.writeStream('main', { kind: 'pages', pageSize: 4096 }, chunkPages(from(data), 4096))
    return w.commitSnapshot(draft, [ref])
  })
}

async function everyObject(repo: Repository): Promise<Map<string, Uint8Array>> {
  const all = new Map<string, Uint8Array>()
  for await (const { key } of repo.backend.list('')) all.set(key, await repo.backend.get(key))
  return all
}

describe('an encrypted repository', () => {
  it('reads back what it stored, stores no plaintext and names blobs by keyed hashes', async () => {
    const repo = await Repository.init(openMemoryBackend(), { password: 'correct horse' })
    const marker = Buffer.from('DISTINCTIVE-PLAINTEXT-MARKER-4711')
    const data = Buffer.alloc(4096 * 64)
    for (let at = 0; at < data.length; at += 4096) marker.copy(data, at)
    data.writeUInt32BE(1, 4000) // pages differ, so they are distinct blobs
    for (let at = 0; at < data.length; at += 4096) data.writeUInt32BE(at, at + 100)
    const snapshot = await storePages(repo, data)
    await repo.writeBookmark({ name: 'marker-bookmark', resource: 'db', generation: 'g', seq: 1, time: 1, created: '' })

    const reopened = await Repository.open(repo.backend, { password: 'correct horse' })
    const [found] = await reopened.listSnapshots('db')
    expect((await collect(reopened.readStream(found!.streams[0]!, 'test'))).equals(data)).toBe(true)
    expect((await reopened.listBookmarks('db'))[0]?.name).toBe('marker-bookmark')

    for (const [key, bytes] of await everyObject(repo)) {
      expect(Buffer.from(bytes).includes(marker), key).toBe(false)
      if (key !== keys.config && !key.startsWith(keys.keyPrefix))
        expect(Buffer.from(bytes).includes('"resource"'), key).toBe(false)
    }
    const firstPage = createHash('sha256').update(data.subarray(0, 4096)).digest('hex')
    const [pack] = [...(await everyObject(repo))].filter(([k]) => k.startsWith('data/'))
    const ids = readPackEntries(pack![1], 'test', reopened.codec).map((e) => e.id)
    expect(ids).toHaveLength(65) // 64 pages and one chunk list
    expect(ids).not.toContain(firstPage)
    expect(() => readPackEntries(pack![1], 'test')).toThrow(IntegrityError)
    expect(snapshot.stats.newChunks).toBe(65)
  })

  it('deduplicates within the repository', async () => {
    const repo = await Repository.init(openMemoryBackend(), { password: 'pw' })
    const data = randomBytes(4096 * 100)
    await storePages(repo, data)
    expect((await storePages(repo, data)).stats.newBytes).toBe(0)
  })

  it('refuses a wrong or missing password and opens with every added one', async () => {
    const backend = openMemoryBackend()
    const repo = await Repository.init(backend, { password: 'first' })
    await expect(Repository.open(backend)).rejects.toThrow(PlanError)
    await expect(Repository.open(backend, { password: 'nope' })).rejects.toThrow(/wrong password: no key in .* opens/)
    const second = await repo.addKey('second')
    const other = await Repository.open(backend, { password: async () => 'second' })
    expect((await other.listKeys()).map((k) => [k.id, k.current])).toContainEqual([second, true])
    await expect(other.removeKey(second)).rejects.toThrow(RefusedError)
    const first = (await other.listKeys()).find((k) => !k.current)!.id
    await other.removeKey(first.slice(0, 8))
    await expect(Repository.open(backend, { password: 'first' })).rejects.toThrow(/wrong password/)
    await expect(other.removeKey(second)).rejects.toThrow(/last key/)
    const changed = await other.changePassword('third')
    expect(changed.removed).toBe(second)
    await expect(Repository.open(backend, { password: 'second' })).rejects.toThrow(/wrong password/)
    expect((await Repository.open(backend, { password: 'third' })).config.encryption?.cipher).toBe('aes-256-gcm')
  })

  it('reports a flipped byte as damage of the object, never as garbage', async () => {
    const backend = openMemoryBackend()
    const repo = await Repository.init(backend, { password: 'pw' })
    const data = randomBytes(4096 * 8)
    const snapshot = await storePages(repo, data)
    const key = keys.snapshot('db', snapshot.id)
    const manifest = Buffer.from(await backend.get(key))
    manifest[40]! ^= 1
    await backend.put(key, manifest)
    const reopened = await Repository.open(backend, { password: 'pw' })
    await expect(reopened.readSnapshotKey(key)).rejects.toThrow(IntegrityError)

    for await (const { key: packKey } of backend.list('data/')) {
      const pack = Buffer.from(await backend.get(packKey))
      pack[30]! ^= 1
      await backend.put(packKey, pack)
    }
    const again = await Repository.open(backend, { password: 'pw' })
    await expect(collect(again.readStream(snapshot.streams[0]!, 'test'))).rejects.toThrow(/fails authentication/)
  })

  it('has no keys when it is plain', async () => {
    const repo = await Repository.init(openMemoryBackend())
    await expect(repo.listKeys()).rejects.toThrow(/not encrypted/)
    expect(repo.config.version).toBe(1)
  })
})
