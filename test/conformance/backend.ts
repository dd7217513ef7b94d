import { createHash, randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type Backend,
  BackendError,
  type BackendErrorKind,
  type ObjectInfo,
} from '../../src/repository/backends/backend.js'

/** Opens a fresh, empty backend for one test; cleanup removes whatever it left behind. */
export type OpenBackendForTest = () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

async function collect(objects: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const info of objects) out.push(info)
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

async function expectKind(promise: Promise<unknown>, kind: BackendErrorKind): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(BackendError)
  await expect(promise).rejects.toHaveProperty('kind', kind)
}

/**
 * The contract every Backend must meet (see backend.ts), as one vitest suite. Call it from
 * the backend's test file: `testBackend('fs', async () => ({ backend, cleanup }))`.
 */
export function testBackend(name: string, open: OpenBackendForTest): void {
  describe(`${name} backend conformance`, () => {
    let backend: Backend
    let cleanup: () => Promise<void>
    beforeEach(async () => {
      ;({ backend, cleanup } = await open())
    })
    afterEach(async () => {
      await backend.close()
      await cleanup()
    })

    it('round-trips small, empty and 5 MiB objects', async () => {
      const large = randomBytes(5 * 1024 * 1024)
      expect(await backend.put('small', bytes('hello'))).toBe('stored')
      expect(await backend.put('empty', new Uint8Array())).toBe('stored')
      expect(await backend.put('data/large', large)).toBe('stored')
      expect(text(await backend.get('small'))).toBe('hello')
      expect((await backend.get('empty')).length).toBe(0)
      expect(sha256(await backend.get('data/large'))).toBe(sha256(large))
    })

    it('replaces an object on put', async () => {
      await backend.put('lock', bytes('one'))
      expect(await backend.put('lock', bytes('two'))).toBe('stored')
      expect(text(await backend.get('lock'))).toBe('two')
    })

    it('leaves an existing object alone with ifAbsent', async () => {
      expect(await backend.put('data/k', bytes('first'), { ifAbsent: true })).toBe('stored')
      expect(await backend.put('data/k', bytes('second'), { ifAbsent: true })).toBe('exists')
      expect(text(await backend.get('data/k'))).toBe('first')
    })

    it('accepts concurrent ifAbsent puts of the same key and bytes', async () => {
      const body = randomBytes(1024 * 1024)
      const results = await Promise.all(
        Array.from({ length: 8 }, () => backend.put('data/same', body, { ifAbsent: true })),
      )
      expect(results).toContain('stored')
      expect(results.every((r) => r === 'stored' || r === 'exists')).toBe(true)
      expect(sha256(await backend.get('data/same'))).toBe(sha256(body))
      expect(await collect(backend.list(''))).toEqual([{ key: 'data/same', size: body.length }])
    })

    it('fails with not-found for a missing object', async () => {
      await expectKind(backend.get('missing'), 'not-found')
      await expectKind(backend.get('missing/deep', { range: { offset: 0, length: 1 } }), 'not-found')
    })

    it('reads byte ranges, and refuses ranges past the end as integrity', async () => {
      await backend.put('digits', bytes('0123456789'))
      const range = async (offset: number, length: number) =>
        text(await backend.get('digits', { range: { offset, length } }))
      expect(await range(0, 3)).toBe('012')
      expect(await range(4, 3)).toBe('456')
      expect(await range(7, 3)).toBe('789')
      expect(await range(0, 10)).toBe('0123456789')
      expect(await range(5, 0)).toBe('')
      expect(await range(10, 0)).toBe('')
      await expectKind(backend.get('digits', { range: { offset: 8, length: 5 } }), 'integrity')
      await expectKind(backend.get('digits', { range: { offset: 11, length: 0 } }), 'integrity')
    })

    it('reads ranges of what is there now, after the object was replaced or deleted', async () => {
      const range = async () => text(await backend.get('data/r', { range: { offset: 1, length: 3 } }))
      await backend.put('data/r', bytes('abcdef'))
      expect(await range()).toBe('bcd')
      await backend.put('data/r', bytes('uvwxyz'))
      expect(await range()).toBe('vwx')
      await backend.delete('data/r')
      await expectKind(range(), 'not-found')
    })

    it('stats present and missing objects', async () => {
      await backend.put('data/ab/k', bytes('12345'))
      expect(await backend.stat('data/ab/k')).toEqual({ key: 'data/ab/k', size: 5 })
      expect(await backend.stat('data/ab/missing')).toBeUndefined()
    })

    it('does not treat a key prefix as an object', async () => {
      await backend.put('dir/k', bytes('x'))
      expect(await backend.stat('dir')).toBeUndefined()
      await expectKind(backend.get('dir'), 'not-found')
      await backend.delete('dir')
      expect(text(await backend.get('dir/k'))).toBe('x')
    })

    it('lists exactly the objects under a prefix, with sizes', async () => {
      const keys = ['config', 'data/aa/1', 'data/aa/22', 'data/bb/333', 'index/4444']
      for (const key of keys) await backend.put(key, bytes(key.slice(key.lastIndexOf('/') + 1)))
      const sized = (...ks: string[]) => ks.map((key) => ({ key, size: key.length - key.lastIndexOf('/') - 1 }))
      expect(await collect(backend.list(''))).toEqual(sized(...keys))
      expect(await collect(backend.list('data/'))).toEqual(sized('data/aa/1', 'data/aa/22', 'data/bb/333'))
      expect(await collect(backend.list('data/aa/'))).toEqual(sized('data/aa/1', 'data/aa/22'))
      expect(await collect(backend.list('index/'))).toEqual(sized('index/4444'))
      expect(await collect(backend.list('nothing/'))).toEqual([])
      expect(await collect(backend.list('data/cc/'))).toEqual([])
    })

    it('deletes objects, and deleting a missing one is fine', async () => {
      await backend.put('data/k', bytes('x'))
      await backend.delete('data/k')
      await expectKind(backend.get('data/k'), 'not-found')
      expect(await collect(backend.list('data/'))).toEqual([])
      await backend.delete('data/k')
      await backend.delete('never/was/here')
    })

    it('rejects invalid keys and prefixes as fatal', async () => {
      for (const key of ['../x', '/abs', 'a//b', 'a/../b', 'a/./b', '', 'a/', 'a b', 'a\\b', 'x/.tmp-1']) {
        await expectKind(backend.put(key, bytes('x')), 'fatal')
        await expectKind(backend.get(key), 'fatal')
        await expectKind(backend.stat(key), 'fatal')
        await expectKind(backend.delete(key), 'fatal')
      }
      await expectKind(collect(backend.list('../')), 'fatal')
      await expectKind(collect(backend.list('/abs/')), 'fatal')
    })

    it('keeps stored bytes apart from the buffers passed in and out', async () => {
      const body = bytes('abc')
      await backend.put('k', body)
      body[0] = 0x78
      const first = await backend.get('k')
      first[1] = 0x79
      expect(text(await backend.get('k'))).toBe('abc')
      const part = await backend.get('k', { range: { offset: 0, length: 2 } })
      part[0] = 0x7a
      expect(text(await backend.get('k'))).toBe('abc')
    })
  })
}
