import { describe, expect, test } from 'vitest'
import { decodeRecords, encodeRecord, header, type KeyRecord } from './codec.js'
import { matchesPattern } from './keys.js'

describe('matchesPattern', () => {
  test.each([
    ['session:*', 'session:abc', true],
    ['session:*', 'sessions', false],
    ['h?llo', 'hello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['*', '', true],
  ])('%s against %s is %s', (pattern, key, expected) => {
    expect(matchesPattern(pattern, Buffer.from(key))).toBe(expected)
  })
})

describe('record codec', () => {
  const records: KeyRecord[] = [
    { key: Buffer.from([0xff, 0]), expireAt: 1234.5, type: 'string', value: Buffer.from([0xc3]) },
    { key: Buffer.from('z'), expireAt: null, type: 'zset', value: [[Buffer.from('m'), 'inf']] },
    { key: Buffer.from('s'), expireAt: null, type: 'stream', value: { lastId: '5-0', entries: [] } },
  ]
  const bytes = Buffer.concat([header, ...records.map(encodeRecord)])
  async function* chunks(b: Buffer, size: number) {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
  }
  const decode = async (b: Buffer, size: number) => {
    const out: KeyRecord[] = []
    for await (const r of decodeRecords(chunks(b, size), 'test')) out.push(r)
    return out
  }

  test('round-trips whatever the chunk boundaries', async () => {
    for (const size of [1, 3, 7, 1000]) expect(await decode(bytes, size)).toEqual(records)
  })

  test('a truncated stream is damage', async () => {
    await expect(decode(bytes.subarray(0, bytes.length - 2), 5)).rejects.toThrow(/record 2 is damaged/)
  })
})
