/**
 * Backends: where a repository's objects live (a directory, memory for tests; S3 to come).
 * They store bytes by key and know nothing of chunks, snapshots or databases; they import
 * nothing but `errors`. Adding one is a file beside this one and a line in `backends`.
 */
import { PlanError } from '../../errors.js'
import type { Backend } from './backend.js'
import { openFsBackend } from './fs.js'
import { openMemoryBackend } from './memory.js'

export type { Backend, BackendErrorKind, GetOptions, ObjectInfo, PutOptions } from './backend.js'
export { BackendError } from './backend.js'
export { openFsBackend } from './fs.js'
export { openMemoryBackend } from './memory.js'

/** Each opens a backend from the part of a repository URL after the scheme (for fs, a path to an existing directory). */
export const backends = {
  fs: (location) => openFsBackend(location),
  memory: async () => openMemoryBackend(),
} satisfies Record<string, (location: string) => Promise<Backend>>

/**
 * Opens the backend a repository URL names: a plain path is fs, `memory:` is a fresh, empty
 * memory backend (for tests). Unknown schemes, and `s3://` for now, are a PlanError.
 */
export async function openBackend(url: string): Promise<Backend> {
  // Two letters at least, so that a Windows drive (C:\…) reads as a path.
  const [, scheme, rest = ''] = /^([A-Za-z][A-Za-z0-9+.-]+):(.*)$/s.exec(url) ?? []
  if (scheme === undefined) return backends.fs(url)
  if (Object.hasOwn(backends, scheme)) return backends[scheme as keyof typeof backends](rest)
  if (scheme === 's3') {
    throw new PlanError(`cannot open ${url}: the S3 backend is not available yet`, 'Use a directory for now.')
  }
  throw new PlanError(
    `cannot open ${url}: unknown backend "${scheme}:"`,
    'Use a directory path (start a relative one with ./), or memory: in tests.',
  )
}
