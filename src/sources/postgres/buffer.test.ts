import { describe, expect, test } from 'vitest'
import { BoundedBuffer, readAhead } from './buffer.js'

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe('BoundedBuffer', () => {
  test('the producer waits while the buffer holds its limit, and the consumer gets every chunk in order', async () => {
    const buffer = new BoundedBuffer(10)
    let pushed = 0
    const producer = (async () => {
      for (let i = 0; i < 5; i++) {
        await buffer.push(bytes(4, i))
        pushed++
      }
      buffer.end()
    })()
    // Let the producer run as far as it can: 12 bytes reach the limit at the third chunk.
    await new Promise((r) => setImmediate(r))
    expect(pushed).toBe(2)
    const got: number[] = []
    for await (const chunk of buffer.drain()) got.push(chunk[0]!)
    await producer
    expect(got).toEqual([0, 1, 2, 3, 4])
  })

  test('a failure reaches the consumer after the chunks before it', async () => {
    const buffer = new BoundedBuffer(100)
    await buffer.push(bytes(1, 7))
    buffer.end(new Error('copy failed'))
    const got: number[] = []
    await expect(
      (async () => {
        for await (const chunk of buffer.drain()) got.push(chunk[0]!)
      })(),
    ).rejects.toThrow('copy failed')
    expect(got).toEqual([7])
  })

  test('closing releases a waiting producer and stops a read-ahead source', async () => {
    let finished = false
    const source = (async function* () {
      try {
        for (let i = 0; ; i++) yield bytes(8, i % 256)
      } finally {
        finished = true
      }
    })()
    const ahead = readAhead(source, 16)
    await new Promise((r) => setImmediate(r))
    ahead.close()
    for (let i = 0; i < 5 && !finished; i++) await new Promise((r) => setImmediate(r))
    expect(finished).toBe(true)
  })
})
