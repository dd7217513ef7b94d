import { randomBytes } from 'node:crypto'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { PlanError } from '../../errors.js'
import { type Backend, BackendError, type GetOptions } from './backend.js'
import { checkKey, checkPrefix, checkRange } from './fs.js'
import { connectS3, type S3ClientOptions } from './s3-client.js'
import { errorCode, httpStatus, type S3Place, toBackendError } from './s3-errors.js'
import { md5, putMultipart } from './s3-multipart.js'

export interface S3Location {
  bucket: string
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string
}

export interface S3BackendOptions extends S3ClientOptions {
  /** Objects larger than this go up in parts. Packs (16 MiB) stay below it: one PUT is one request. */
  multipartThreshold?: number
  partSize?: number
  /** Whether the store honours `If-None-Match: *` on writes; probed once on the first ifAbsent put when unset. */
  conditionalWrites?: boolean
}

export const defaultS3BackendOptions = { multipartThreshold: 64 * 1024 * 1024, partSize: 16 * 1024 * 1024 }

/** `//bucket/prefix` (an `s3:` URL after the scheme) as a bucket and a prefix. */
export function parseS3Location(rest: string): S3Location {
  const match = /^\/\/([^/]+)\/*(.*?)\/*$/s.exec(rest)
  if (!match) throw new PlanError(`"s3:${rest}" does not name a bucket`, 'Write the repository as s3://bucket/prefix.')
  return { bucket: match[1]!, prefix: match[2]! }
}

/**
 * Opens `s3://bucket/prefix` as a Backend; endpoint, region and credentials come from the
 * environment (see connectS3). Opening sends no request: a missing bucket, wrong credentials or
 * an unreachable endpoint are reported by the first call, each as a BackendError saying what to do.
 *
 * One request per put, get, stat or delete; lists take one per 1000 keys. Writes with ifAbsent use
 * `If-None-Match: *` where the store honours it, else a stat before the put (see docs/S3.md).
 * Retries are not done here: wrap the backend in `retrying`.
 */
export async function openS3Backend(location: S3Location, opts: S3BackendOptions = {}): Promise<Backend> {
  const { bucket, prefix } = location
  const { multipartThreshold, partSize } = { ...defaultS3BackendOptions, ...opts }
  const { client, endpoint, pathStyle } = await connectS3(opts)
  const url = `s3://${bucket}${prefix ? `/${prefix}` : ''}`
  const place: S3Place = { location: url, bucket, endpoint, pathStyle }
  const base = prefix ? `${prefix}/` : ''
  const objectKey = (key: string) => {
    checkKey(key)
    return base + key
  }

  /** Runs one SDK call, turning its failure into a BackendError; an abort stays the abort. */
  const call = async <T>(what: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (err) {
      signal?.throwIfAborted()
      throw toBackendError(err, what, place)
    }
  }

  const head = async (key: string, signal?: AbortSignal) => {
    const Key = objectKey(key)
    return call(`cannot stat ${key}`, signal, async () => {
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }), { abortSignal: signal })
        return { key, size: res.ContentLength ?? 0 }
      } catch (err) {
        if (httpStatus(err) === 404) return undefined
        throw err
      }
    })
  }

  /** Puts body at the S3 key Key (prefix included), in parts when it is large. */
  const upload = (Key: string, body: Uint8Array, ifNoneMatch: string | undefined, signal?: AbortSignal) => {
    if (body.length > multipartThreshold) {
      return putMultipart({ client, bucket, key: Key, body, partSize, ifNoneMatch, signal })
    }
    const command = new PutObjectCommand({
      Bucket: bucket,
      Key,
      Body: body,
      ContentLength: body.length,
      // Transport integrity: the store refuses the put (BadDigest) if the bytes it got differ.
      ContentMD5: md5(body),
      ...(ifNoneMatch && { IfNoneMatch: ifNoneMatch }),
    })
    return client.send(command, { abortSignal: signal })
  }

  let conditional: Promise<boolean> | undefined =
    opts.conditionalWrites === undefined ? undefined : Promise.resolve(opts.conditionalWrites)
  /** Writes a reserved `.tmp-` key twice with If-None-Match: a store that honours it refuses the second. */
  const probeConditionalWrites = async (): Promise<boolean> => {
    const Key = `${base}.tmp-probe-${randomBytes(8).toString('hex')}`
    const body = new Uint8Array()
    try {
      await upload(Key, body, '*')
      await upload(Key, body, '*')
      return false
    } catch (err) {
      if (httpStatus(err) === 412) return true
      if (httpStatus(err) === 501 || errorCode(err) === 'NotImplemented') return false
      throw toBackendError(err, 'cannot check whether the store supports conditional writes', place)
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => undefined)
    }
  }

  return {
    kind: 's3',
    location: url,

    async put(key, body, putOpts) {
      const Key = objectKey(key)
      const signal = putOpts?.signal
      signal?.throwIfAborted()
      return call(`cannot store ${key}`, signal, async () => {
        if (!putOpts?.ifAbsent) {
          await upload(Key, body, undefined, signal)
          return 'stored'
        }
        conditional ??= probeConditionalWrites().catch((err: unknown) => {
          conditional = undefined
          throw err
        })
        if (!(await conditional)) {
          // Not atomic: a put between the stat and ours is replaced. Safe for content-addressed keys (docs/S3.md).
          if (await head(key, signal)) return 'exists'
          await upload(Key, body, undefined, signal)
          return 'stored'
        }
        try {
          await upload(Key, body, '*', signal)
          return 'stored'
        } catch (err) {
          if (httpStatus(err) === 412) return 'exists'
          throw err
        }
      })
    },

    async get(key, getOpts) {
      const Key = objectKey(key)
      const { range, signal } = getOpts ?? {}
      signal?.throwIfAborted()
      if (range) return getRange(key, Key, range, signal)
      return call(`cannot read ${key}`, signal, async () => {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key }), { abortSignal: signal })
        return res.Body ? await res.Body.transformToByteArray() : new Uint8Array()
      })
    },

    stat: (key) => head(key),

    async *list(listPrefix, listOpts) {
      checkPrefix(listPrefix)
      const signal = listOpts?.signal
      let token: string | undefined
      do {
        signal?.throwIfAborted()
        const command = new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: base + listPrefix,
          ContinuationToken: token,
        })
        const page = await call(`cannot list ${listPrefix || 'all objects'}`, signal, () =>
          client.send(command, { abortSignal: signal }),
        )
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(base.length) ?? ''
          // Folder markers (made by consoles) and reserved `.tmp-` keys (the probe) are not objects of ours.
          if (key === '' || key.endsWith('/') || key.split('/').some((s) => s.startsWith('.tmp-'))) continue
          yield { key, size: object.Size ?? 0 }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
    },

    async delete(key) {
      const Key = objectKey(key)
      await call(`cannot delete ${key}`, undefined, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key })))
    },

    async close() {
      client.destroy()
    },
  }

  /** One ranged GET; a range that reaches past the end is 'integrity', as on every backend. */
  async function getRange(key: string, Key: string, range: NonNullable<GetOptions['range']>, signal?: AbortSignal) {
    checkRange(key, range, Number.POSITIVE_INFINITY)
    const sizeOrMissing = async () => {
      const info = await head(key, signal)
      if (!info) throw new BackendError('not-found', `${key} does not exist in ${url}`)
      return info.size
    }
    // HTTP cannot ask for zero bytes: check the offset against the size instead.
    if (range.length === 0) {
      checkRange(key, range, await sizeOrMissing())
      return new Uint8Array()
    }
    const Range = `bytes=${range.offset}-${range.offset + range.length - 1}`
    const res = await call(`cannot read ${key}`, signal, async () => {
      try {
        return await client.send(new GetObjectCommand({ Bucket: bucket, Key, Range }), { abortSignal: signal })
      } catch (err) {
        if (httpStatus(err) !== 416) throw err
        checkRange(key, range, await sizeOrMissing())
        throw err
      }
    })
    const bytes = await call(`cannot read ${key}`, signal, async () => res.Body?.transformToByteArray())
    if (bytes?.length !== range.length) {
      // The store sent what it has: `bytes first-last/size` names the object's size.
      const size = Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1] ?? range.offset + (bytes?.length ?? 0))
      checkRange(key, range, size)
      throw new BackendError('integrity', `${key} came back with ${bytes?.length ?? 0} of ${range.length} bytes`)
    }
    return bytes
  }
}
