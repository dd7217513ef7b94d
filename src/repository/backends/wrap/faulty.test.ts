import { describe, expect, it } from 'vitest'
import { openMemoryBackend } from '../memory.js'
import { faulty } from './faulty.js'

const body = new TextEncoder().encode('x')

describe('faulty', () => {
  it('fails the next calls of an op before they reach the backend, and counts calls', async () => {
    const backend = faulty(openMemoryBackend())
    backend.failNext('put')
    await expect(backend.put('k', body)).rejects.toMatchObject({ kind: 'transient' })
    expect(await backend.stat('k')).toBeUndefined()
    expect(await backend.put('k', body)).toBe('stored')

    const boom = new Error('boom')
    backend.failNext('get', boom, 2)
    await expect(backend.get('k')).rejects.toBe(boom)
    await expect(backend.get('k')).rejects.toBe(boom)
    expect((await backend.get('k')).length).toBe(1)
    expect(backend.counts).toEqual({ put: 2, get: 3, list: 0, delete: 0, stat: 1 })
  })

  it('fails a random share of calls with failRate, until the rate is 0', async () => {
    const backend = faulty(openMemoryBackend())
    backend.failRate('stat', 0.5)
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => backend.stat('k')))
    const failed = results.filter((r) => r.status === 'rejected').length
    expect(failed).toBeGreaterThan(50)
    expect(failed).toBeLessThan(150)

    backend.failRate('list', 1)
    await expect(backend.list('')[Symbol.asyncIterator]().next()).rejects.toMatchObject({ kind: 'transient' })
    backend.failRate('list', 0)
    expect(await backend.list('')[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined })
  })
})
