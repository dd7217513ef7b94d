import { PassThrough } from 'node:stream'
import type { Connection } from 'pg'
import { describe, expect, it } from 'vitest'
import { CopyOut } from './copy-out.js'

function message(code: string, payload: Buffer | string = ''): Buffer {
  const body = Buffer.from(payload)
  const header = Buffer.alloc(5)
  header.write(code, 0, 'latin1')
  header.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

const rows = ['1\talice\n', '2\t\\N\n', '', '3\tbob\n'.repeat(50)]
const copyOut = message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]))
const after = Buffer.concat([message('C', 'COPY 4\0'), message('Z', 'I')])

/** A pg connection whose socket delivers `bytes` in pieces of `size`; returns the rows read and what pg was given back. */
async function run(bytes: Buffer, size: number, error?: Error) {
  const stream = new PassThrough()
  const handedBack: Buffer[] = []
  stream.on('data', (chunk: Buffer) => handedBack.push(Buffer.from(chunk)))
  let query = ''
  const connection = { stream, query: (text: string) => (query = text) } as unknown as Connection
  const copy = new CopyOut('COPY t TO STDOUT')
  copy.submit(connection)
  for (let at = 0; at < bytes.length; at += size) stream.write(Buffer.from(bytes.subarray(at, at + size)))
  const out: Buffer[] = []
  const reading = (async () => {
    for await (const chunk of copy) out.push(Buffer.from(chunk as Buffer))
  })()
  // As pg does once it has read what was handed back to it.
  setTimeout(() => (error ? copy.handleError(error) : copy.handleReadyForQuery()), 20)
  const failure = await reading.then(
    () => undefined,
    (err: Error) => err,
  )
  return {
    query,
    rows: Buffer.concat(out).toString(),
    count: copy.rows,
    handedBack: Buffer.concat(handedBack),
    failure,
  }
}

describe('CopyOut', () => {
  const bytes = Buffer.concat([
    copyOut,
    message('d', rows[0]),
    message('N', 'notice\0'),
    message('d', rows[1]),
    message('d', rows[2]),
    message('S', 'a\0b\0'),
    message('d', rows[3]),
    message('c'),
    after,
  ])

  it('yields the rows without the protocol and hands pg what follows CopyDone, however the socket splits it', async () => {
    for (const size of [1, 2, 3, 4, 5, 6, 7, 13, 64, bytes.length]) {
      const got = await run(bytes, size)
      expect(got.query).toBe('COPY t TO STDOUT')
      expect(got.rows).toBe(rows.join(''))
      expect(got.count).toBe(4)
      expect(got.handedBack.equals(after)).toBe(true)
      expect(got.failure).toBeUndefined()
    }
  })

  it('gives an error response back to pg whole, header included, and fails with the error pg reports', async () => {
    const failure = Buffer.concat([message('E', 'SERROR\0Mboom\0\0'), message('Z', 'I')])
    const broken = Buffer.concat([copyOut, message('d', rows[0]), failure])
    for (const size of [1, 3, 5, 8, broken.length]) {
      const got = await run(broken, size, new Error('boom'))
      expect(got.failure?.message).toBe('boom')
      expect(got.rows).toBe(rows[0])
      expect(got.handedBack.equals(failure)).toBe(true)
    }
  })
})
