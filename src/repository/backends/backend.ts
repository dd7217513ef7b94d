import { DrkitError } from '../../errors.js'

/** Why a backend call failed, as data, so that wrappers (retrying) know what to try again. */
export type BackendErrorKind = 'not-found' | 'exists' | 'integrity' | 'permission' | 'no-space' | 'transient' | 'fatal'

export class BackendError extends DrkitError {
  override readonly code = 'backend'
  constructor(
    readonly kind: BackendErrorKind,
    message: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, hint, options)
  }
}

export interface PutOptions {
  /** Leave an existing object alone and return 'exists' (for content-addressed keys). */
  ifAbsent?: boolean
  signal?: AbortSignal
}

export interface GetOptions {
  range?: { offset: number; length: number }
  signal?: AbortSignal
}

export interface ObjectInfo {
  key: string
  size: number
}

/**
 * Raw object storage under a repository: bytes by key, nothing more. Knows nothing of
 * chunks, hashes or databases.
 *
 * Keys are `/`-separated relative paths of [A-Za-z0-9._-] segments.
 * Writes are atomic: a reader sees all of an object or nothing, never a partial write,
 * also after a crash. Objects are never modified in place by the repository, except
 * lock files, which are replaced whole.
 */
export interface Backend {
  /** 'fs' | 'memory' | 's3', for messages. */
  readonly kind: string
  /** Where it is, for messages (a directory, a bucket URL). */
  readonly location: string
  /** Stores body at key, replacing an existing object unless `ifAbsent`. Durable when it resolves. */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<'stored' | 'exists'>
  /** The whole object, or a byte range of it; BackendError('not-found') when missing.
   *  A range past the end is an error ('integrity'): stored objects have known sizes. */
  get(key: string, opts?: GetOptions): Promise<Uint8Array>
  /** Size of an object, or undefined when missing. */
  stat(key: string): Promise<ObjectInfo | undefined>
  /** Every object under prefix (a key prefix ending in `/`, or ''), in no promised order. */
  list(prefix: string, opts?: { signal?: AbortSignal }): AsyncIterable<ObjectInfo>
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>
  close(): Promise<void>
}
