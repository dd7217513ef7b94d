import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testBackend } from '../../../test/conformance/backend.js'
import { type S3Proxy, type S3Server, startS3Proxy, startS3Server } from '../../../test/support/s3.js'
import type { ObjectInfo } from './backend.js'
import { openBackend } from './index.js'
import { openS3Backend, parseS3Location, type S3BackendOptions } from './s3.js'
import { connectS3 } from './s3-client.js'
import { retrying } from './wrap/retrying.js'

let server: S3Server
beforeAll(async () => {
  server = await startS3Server()
})
afterAll(() => server?.stop())

const bytes = (text: string) => new TextEncoder().encode(text)
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')
/** A backend on a fresh prefix of the test bucket, so that tests share the server and nothing else. */
const openFresh = (opts: S3BackendOptions = {}, env = server.env) =>
  openS3Backend({ bucket: server.bucket, prefix: `t/${randomUUID()}` }, { env, ...opts })

async function collect(objects: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const info of objects) out.push(info)
  return out
}

async function failure(promise: Promise<unknown>): Promise<{ kind: string; message: string; hint?: string }> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (err: { kind: string; message: string; hint?: string }) => err,
  )
}

testBackend('s3', async () => ({ backend: await openFresh(), cleanup: async () => {} }))

describe('s3 backend', () => {
  let proxy: S3Proxy | undefined
  afterAll(() => proxy?.stop())
  const withProxy = async (opts: { conditionalWrites?: boolean } = {}) => {
    await proxy?.stop()
    proxy = await startS3Proxy(server.endpoint, opts)
    return proxy
  }

  it('parses s3 locations as the plan writes them', () => {
    expect(parseS3Location('//bucket/a/b/')).toEqual({ bucket: 'bucket', prefix: 'a/b' })
    expect(parseS3Location('//bucket')).toEqual({ bucket: 'bucket', prefix: '' })
    expect(() => parseS3Location('bucket')).toThrow(/does not name a bucket/)
  })

  it('uses path-style addressing when asked, or when the endpoint cannot take a bucket subdomain', async () => {
    const pathStyle = async (env: Record<string, string>) => {
      const { client, pathStyle } = await connectS3({ env: { AWS_REGION: 'us-east-1', ...env } })
      client.destroy()
      return pathStyle
    }
    expect(await pathStyle({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' })).toBe(true)
    expect(await pathStyle({ AWS_ENDPOINT_URL: 'http://localhost' })).toBe(true)
    expect(await pathStyle({ AWS_ENDPOINT_URL: 'https://minio.internal:9000' })).toBe(true)
    expect(await pathStyle({ AWS_ENDPOINT_URL: 'https://account.r2.cloudflarestorage.com' })).toBe(false)
    expect(await pathStyle({})).toBe(false)
    expect(await pathStyle({ DRKIT_S3_FORCE_PATH_STYLE: '1' })).toBe(true)
    expect(await pathStyle({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000', DRKIT_S3_FORCE_PATH_STYLE: '0' })).toBe(false)
  })

  it('lists more than 1000 keys under a prefix, a page per 1000', async () => {
    const counting = await withProxy()
    const backend = await openFresh({}, counting.env)
    const keys = Array.from({ length: 1100 }, (_, i) => `data/${String(i).padStart(4, '0')}`)
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((key) => backend.put(key, bytes(key))))
    }
    await backend.put('other/x', bytes('x'))
    const lists = counting.counts.LIST ?? 0
    const listed = await collect(backend.list('data/'))
    expect(listed.map((o) => o.key).sort()).toEqual(keys)
    expect(listed.every((o) => o.size === 9)).toBe(true)
    expect((counting.counts.LIST ?? 0) - lists).toBe(2)
    expect(await collect(backend.list(''))).toHaveLength(keys.length + 1)
    await backend.close()
  })

  it('stores objects above the threshold in parts, and reads them whole and by range', async () => {
    const counting = await withProxy()
    const backend = await openFresh({ multipartThreshold: 8 * 1024 * 1024, partSize: 5 * 1024 * 1024 }, counting.env)
    const body = randomBytes(12 * 1024 * 1024 + 17)
    const posts = counting.counts.POST ?? 0
    const puts = counting.counts.PUT ?? 0
    expect(await backend.put('data/big', body)).toBe('stored')
    // Create and complete (POST), three parts (PUT).
    expect((counting.counts.POST ?? 0) - posts).toBe(2)
    expect((counting.counts.PUT ?? 0) - puts).toBe(3)
    expect(await backend.stat('data/big')).toEqual({ key: 'data/big', size: body.length })
    expect(sha256(await backend.get('data/big'))).toBe(sha256(body))
    const range = { offset: 5 * 1024 * 1024 - 3, length: 1024 }
    expect(Buffer.from(await backend.get('data/big', { range }))).toEqual(
      body.subarray(range.offset, range.offset + 1024),
    )
    // At the threshold and below: one PUT.
    const before = counting.counts.PUT ?? 0
    await backend.put('data/pack', body.subarray(0, 8 * 1024 * 1024))
    expect((counting.counts.PUT ?? 0) - before).toBe(1)
    await backend.close()
  })

  it('falls back to a stat before the put where the store ignores If-None-Match', async () => {
    const counting = await withProxy()
    const backend = await openFresh({}, counting.env)
    expect(await backend.put('data/k', bytes('first'), { ifAbsent: true })).toBe('stored')
    const heads = counting.counts.HEAD ?? 0
    expect(await backend.put('data/k', bytes('second'), { ifAbsent: true })).toBe('exists')
    expect((counting.counts.HEAD ?? 0) - heads).toBe(1)
    expect(new TextDecoder().decode(await backend.get('data/k'))).toBe('first')
    // The probe's object is gone, and list would skip it anyway.
    expect((await collect(backend.list(''))).map((o) => o.key)).toEqual(['data/k'])
    await backend.close()
  })

  it('uses conditional writes where the store honours them: one request per put', async () => {
    const conditional = await withProxy({ conditionalWrites: true })
    const backend = await openFresh({}, conditional.env)
    expect(await backend.put('data/k', bytes('first'), { ifAbsent: true })).toBe('stored')
    const before = { ...conditional.counts }
    expect(await backend.put('data/k', bytes('second'), { ifAbsent: true })).toBe('exists')
    expect(await backend.put('data/j', bytes('third'), { ifAbsent: true })).toBe('stored')
    expect(conditional.counts.PUT! - before.PUT!).toBe(2)
    expect(conditional.counts.HEAD ?? 0).toBe(before.HEAD ?? 0)
    expect(new TextDecoder().decode(await backend.get('data/k'))).toBe('first')
    const racing = await Promise.all(
      Array.from({ length: 6 }, (_, i) => backend.put('data/race', bytes(`writer ${i}`), { ifAbsent: true })),
    )
    expect(racing.filter((r) => r === 'stored')).toHaveLength(1)
    await backend.close()
  })

  it('says how to create a missing bucket', async () => {
    const backend = await openS3Backend({ bucket: 'no-such-bucket', prefix: 'repo' }, { env: server.env })
    const err = await failure(backend.get('config'))
    expect(err.kind).toBe('fatal')
    expect(err.message).toMatch(/the bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+/)
    expect(err.hint).toMatch(/aws s3 mb s3:\/\/no-such-bucket/)
    expect(err.hint).toMatch(/not the bucket/)
    expect((await failure(backend.put('config', bytes('x'), { ifAbsent: true }))).message).toMatch(/does not exist/)
  })

  it('names the credential variables when the store refuses them', async () => {
    const env = { ...server.env, AWS_ACCESS_KEY_ID: 'WRONG' }
    const backend = await openFresh({}, env)
    for (const call of [() => backend.get('config'), () => backend.stat('config'), () => collect(backend.list(''))]) {
      const err = await failure(call())
      expect(err.kind).toBe('permission')
      expect(err.message).toMatch(/access denied/)
      expect(err.hint).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)
    }
  })

  it('reports an unreachable endpoint as transient, and the retrying backend gives up after its attempts', async () => {
    const env = { ...server.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }
    const raw = await openS3Backend({ bucket: 'b', prefix: '' }, { env })
    const err = await failure(raw.get('config'))
    expect(err.kind).toBe('transient')
    expect(err.message).toMatch(/cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:9/)
    expect(err.hint).toMatch(/AWS_ENDPOINT_URL/)

    const retried = retrying(raw, { baseDelayMs: 20 })
    const final = await failure(retried.stat('config'))
    expect(final.kind).toBe('transient')
    expect(final.message).toMatch(/cannot reach .* \(gave up after 6 tries in [\d.]+ s\)/)
  })

  it('is what openBackend opens for s3:// URLs', async () => {
    const backend = await openBackend(`s3://${server.bucket}/some/prefix/`)
    expect(backend).toMatchObject({ kind: 's3', location: `s3://${server.bucket}/some/prefix` })
    await backend.close()
  })
})
