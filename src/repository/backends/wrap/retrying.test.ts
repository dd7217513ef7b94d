import { describe, expect, it } from 'vitest'
import { testBackend } from '../../../../test/conformance/backend.js'
import { type Backend, BackendError, type ObjectInfo } from '../backend.js'
import { openMemoryBackend } from '../memory.js'
import { faulty } from './faulty.js'
import { type RetryOptions, retrying } from './retrying.js'

testBackend('retrying(memory)', async () => ({ backend: retrying(openMemoryBackend()), cleanup: async () => {} }))

const bytes = (text: string) => new TextEncoder().encode(text)
const fast: RetryOptions = { baseDelayMs: 1, maxDelayMs: 4 }

async function keysOf(objects: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const out: string[] = []
  for await (const { key } of objects) out.push(key)
  return out
}

describe('retrying', () => {
  it('retries transient failures with growing, jittered waits, and nothing else', async () => {
    const inner = faulty(openMemoryBackend())
    const waits: number[] = []
    const backend = retrying(inner, { baseDelayMs: 10, onRetry: ({ delayMs }) => waits.push(delayMs) })
    inner.failNext('put', undefined, 3)
    expect(await backend.put('k', bytes('x'))).toBe('stored')
    expect(inner.counts.put).toBe(4)
    // Equal jitter: each wait lies between half and all of 10, 20, 40 ms.
    expect(waits).toHaveLength(3)
    waits.forEach((wait, i) => {
      expect(wait).toBeGreaterThanOrEqual(5 * 2 ** i)
      expect(wait).toBeLessThanOrEqual(10 * 2 ** i)
    })

    inner.failNext('get', new BackendError('permission', 'denied'))
    await expect(backend.get('k')).rejects.toMatchObject({ kind: 'permission', message: 'denied' })
    expect(inner.counts.get).toBe(1)
    await expect(backend.get('missing')).rejects.toMatchObject({ kind: 'not-found' })
    expect(inner.counts.get).toBe(2)
  })

  it('gives up after its attempts, saying how often it tried', async () => {
    const inner = faulty(openMemoryBackend())
    inner.failRate('stat', 1, new BackendError('transient', 'cannot reach the store', 'Check the endpoint.'))
    const failed = await retrying(inner, { ...fast, attempts: 4 })
      .stat('k')
      .catch((err: unknown) => err)
    expect(failed).toBeInstanceOf(BackendError)
    expect(failed).toMatchObject({ kind: 'transient', hint: 'Check the endpoint.' })
    expect((failed as Error).message).toMatch(/^cannot reach the store \(gave up after 4 tries in [\d.]+ s\)$/)
    expect(inner.counts.stat).toBe(4)
  })

  it('gives up when the next wait would pass the time bound', async () => {
    const inner = faulty(openMemoryBackend())
    inner.failRate('delete', 1)
    const started = Date.now()
    await expect(
      retrying(inner, { attempts: 100, baseDelayMs: 20, maxDelayMs: 20, totalMs: 100 }).delete('k'),
    ).rejects.toMatchObject({ kind: 'transient' })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(inner.counts.delete).toBeLessThan(12)
  })

  it('stops waiting when the signal aborts', async () => {
    const inner = faulty(openMemoryBackend())
    inner.failRate('get', 1)
    const controller = new AbortController()
    const pending = retrying(inner, { baseDelayMs: 60_000 }).get('k', { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 20)
    await expect(pending).rejects.toThrow('stop')
  })

  it('starts a broken listing over without giving a key twice', async () => {
    const memory = openMemoryBackend()
    const keys = Array.from({ length: 20 }, (_, i) => `data/${String(i).padStart(2, '0')}`)
    for (const key of keys) await memory.put(key, bytes(key))
    // The wrapped listing breaks after 7 keys, twice.
    let breaks = 2
    const flaky: Backend = {
      ...memory,
      async *list(prefix, opts) {
        let given = 0
        for await (const info of memory.list(prefix, opts)) {
          if (given++ === 7 && breaks-- > 0) throw new BackendError('transient', 'connection reset')
          yield info
        }
      },
    }
    const listed = await keysOf(retrying(flaky, fast).list('data/'))
    expect(listed.sort()).toEqual(keys)
    expect(breaks).toBe(-1)
  })

  it('reports a conditional put whose first answer was lost as stored, when the bytes there are ours', async () => {
    const memory = openMemoryBackend()
    // The first put lands, but its answer is lost: the caller sees a transient failure.
    let lose = true
    const lossy: Backend = {
      ...memory,
      async put(key, body, opts) {
        const result = await memory.put(key, body, opts)
        if (lose) {
          lose = false
          throw new BackendError('transient', 'socket hang up')
        }
        return result
      },
    }
    const backend = retrying(lossy, fast)
    expect(await backend.put('config', bytes('ours'), { ifAbsent: true })).toBe('stored')
    expect(await backend.put('config', bytes('other'), { ifAbsent: true })).toBe('exists')
    lose = true
    expect(await backend.put('config', bytes('mine'), { ifAbsent: true })).toBe('exists')
  })
})
