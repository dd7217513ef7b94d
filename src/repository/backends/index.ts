/**
 * Backends: where a repository's objects live (a directory, an S3 bucket; memory for tests).
 * They store bytes by key and know nothing of chunks, snapshots or databases; they import
 * nothing but `errors`. Adding one is a file beside this one and a line in `backends`.
 */
import { PlanError } from '../../errors.js'
import type { Backend } from './backend.js'
import { openFsBackend } from './fs.js'
import { openMemoryBackend } from './memory.js'
import { retrying } from './wrap/retrying.js'

export type { Backend, BackendErrorKind, GetOptions, ObjectInfo, PutOptions } from './backend.js'
export { BackendError } from './backend.js'
export { openFsBackend } from './fs.js'
export { openMemoryBackend } from './memory.js'
export type { S3BackendOptions, S3Location } from './s3.js'
export { type RetryOptions, retrying } from './wrap/retrying.js'

/** Each opens a backend from the part of a repository URL after the scheme (for fs, a path to an existing directory). */
export const backends = {
  fs: (location) => openFsBackend(location),
  memory: async () => openMemoryBackend(),
  // A network store fails now and then (throttling, 5xx, time-outs): retried with backoff.
  // Loaded on first use: the AWS SDK costs every command about 20 MiB and 0.2 s of start-up.
  s3: async (location) => {
    const { openS3Backend, parseS3Location } = await import('./s3.js')
    return retrying(await openS3Backend(parseS3Location(location)))
  },
} satisfies Record<string, (location: string) => Promise<Backend>>

/**
 * Opens the backend a repository URL names: a plain path is fs, `s3://bucket/prefix` is S3 (endpoint,
 * region and credentials from the AWS_* variables), `memory:` is a fresh, empty memory backend (for
 * tests). Unknown schemes are a PlanError.
 */
export async function openBackend(url: string): Promise<Backend> {
  // Two letters at least, so that a Windows drive (C:\…) reads as a path.
  const [, scheme, rest = ''] = /^([A-Za-z][A-Za-z0-9+.-]+):(.*)$/s.exec(url) ?? []
  if (scheme === undefined) return backends.fs(url)
  if (Object.hasOwn(backends, scheme)) return backends[scheme as keyof typeof backends](rest)
  throw new PlanError(
    `cannot open ${url}: unknown backend "${scheme}:"`,
    'Use a directory path (start a relative one with ./), s3://bucket/prefix, or memory: in tests.',
  )
}
