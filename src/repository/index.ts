/**
 * The repository: where all backup data and metadata live, on a Backend. It chunks,
 * deduplicates, compresses (and, when asked, encrypts) and stores streams, and reads them
 * back checked against their hashes. It knows nothing of databases: sources hand streams
 * to ops/, which hands them here.
 */
import { randomUUID } from 'node:crypto'
import { IntegrityError, NotFoundError, PlanError, RefusedError } from '../errors.js'
import type { Boundary } from '../model.js'
import { type Backend, BackendError } from './backends/backend.js'
import { type Bookmark, listBookmarks, writeBookmark } from './bookmarks.js'
import { decodeJson } from './compress.js'
import {
  addKey,
  type Codec,
  encryptedCodec,
  type KeyInfo,
  listKeys,
  newMasterKey,
  plainCodec,
  removeKey,
  retireKey,
  unlock,
} from './crypto/index.js'
import { type EvidenceKind, type EvidenceRecord, listEvidence, writeEvidence } from './evidence.js'
import { defaultPackSize, encryptedFormatVersion, formatVersion, idOfKey, keys } from './format.js'
import { sha256 } from './hash.js'
import { acquireLock, type Lock, type LockKind, type LockOptions } from './lock.js'
import type { Snapshot, StreamRef } from './manifest.js'
import { decodeIndexFile, PackIndex } from './pack-index.js'
import { BlobReader } from './reader.js'
import {
  listSegments,
  readHeads,
  readSegment,
  type SegmentData,
  type SegmentRef,
  writeHead,
  writeSegment,
} from './segments.js'
import { RepositoryWriter } from './writer.js'

export type { Backend } from './backends/backend.js'
export { type Bookmark, checkBookmarkName } from './bookmarks.js'
export type { KeyInfo } from './crypto/index.js'
export { type EvidenceKind, type EvidenceRecord, evidenceKinds } from './evidence.js'
export type { LockInfo, LockKind } from './lock.js'
export type { ChunkingSpec, Snapshot, SnapshotDraft, SnapshotStats, StreamRef } from './manifest.js'
export { shortId } from './manifest.js'
export type { SegmentData, SegmentRef } from './segments.js'
export type { RepositoryWriter } from './writer.js'

export interface RepositoryConfig {
  version: number
  id: string
  created: string
  packSize: number
  /** Present when every object is encrypted: how, and how keys are derived from passwords. */
  encryption?: { cipher: 'aes-256-gcm'; ids: 'hmac-sha256'; kdf: 'scrypt' }
}

/**
 * A repository's password, or a function that reads it (called only when the repository
 * is encrypted, so that a plain repository needs none).
 */
export type PasswordSource = string | (() => Promise<string | undefined>)

export class Repository {
  private index: PackIndex | undefined
  private readonly loadedIndexes = new Set<string>()
  /** Index files that could not be read when the index was loaded. */
  readonly damagedIndexes: { key: string; error: string }[] = []
  /** Snapshot manifests that could not be read when snapshots were listed. */
  readonly damagedSnapshots: { key: string; error: string }[] = []

  private constructor(
    readonly backend: Backend,
    readonly config: RepositoryConfig,
    /** How objects are stored: the only difference between plain and encrypted repositories. */
    readonly codec: Codec = plainCodec,
    /** The key file the password opened, in an encrypted repository. */
    private readonly keyId?: string,
  ) {}

  /**
   * Creates a repository on an empty backend; RefusedError when one is already there.
   * With `password`, it is encrypted: a random master key is stored wrapped by the password.
   */
  static async init(backend: Backend, opts: { packSize?: number; password?: string } = {}): Promise<Repository> {
    const encrypted = opts.password !== undefined
    const config: RepositoryConfig = {
      version: encrypted ? encryptedFormatVersion : formatVersion,
      id: randomUUID(),
      created: new Date().toISOString(),
      packSize: opts.packSize ?? defaultPackSize,
      ...(encrypted ? { encryption: { cipher: 'aes-256-gcm', ids: 'hmac-sha256', kdf: 'scrypt' } as const } : {}),
    }
    const result = await backend.put(keys.config, Buffer.from(`${JSON.stringify(config, null, 2)}\n`), {
      ifAbsent: true,
    })
    if (result === 'exists') {
      throw new RefusedError(`a drkit repository already exists at ${backend.location}`, 'Nothing was changed.')
    }
    if (opts.password === undefined) return new Repository(backend, config)
    const master = newMasterKey()
    try {
      const keyId = await addKey(backend, master, opts.password)
      return new Repository(backend, config, encryptedCodec(master), keyId)
    } catch (err) {
      // A config without a key would make an encrypted repository nobody can open.
      await backend.delete(keys.config).catch(() => undefined)
      throw err
    }
  }

  /**
   * Opens the repository on a backend. An encrypted one needs its password: PlanError
   * when none is given or when it opens no key.
   */
  static async open(backend: Backend, opts: { password?: PasswordSource } = {}): Promise<Repository> {
    let bytes: Uint8Array
    try {
      bytes = await backend.get(keys.config)
    } catch (err) {
      if (err instanceof BackendError && err.kind === 'not-found') {
        throw new NotFoundError(`there is no drkit repository at ${backend.location}`, 'Run `drkit init` to create it.')
      }
      throw err
    }
    let config: RepositoryConfig
    try {
      config = JSON.parse(Buffer.from(bytes).toString('utf8')) as RepositoryConfig
    } catch (cause) {
      throw new IntegrityError(`the repository config at ${backend.location} is damaged`, undefined, { cause })
    }
    if (config.version > encryptedFormatVersion) {
      throw new PlanError(
        `the repository at ${backend.location} has format version ${config.version}; this drkit reads up to ${encryptedFormatVersion}`,
        'Upgrade drkit.',
      )
    }
    if (!config.encryption) return new Repository(backend, config)
    const password = typeof opts.password === 'function' ? await opts.password() : opts.password
    if (password === undefined) {
      throw new PlanError(
        `the repository at ${backend.location} is encrypted and no password was given`,
        'Set DRKIT_PASSWORD, or pass --password-file FILE (a file that holds the password).',
      )
    }
    const { master, keyId } = await unlock(backend, password)
    return new Repository(backend, config, encryptedCodec(master), keyId)
  }

  /** The keys (passwords) of an encrypted repository, oldest first. */
  async listKeys(): Promise<KeyInfo[]> {
    return listKeys(this.backend, this.requireKey())
  }

  /** Adds a password that opens the repository; returns the new key's id. */
  async addKey(password: string): Promise<string> {
    this.requireKey()
    return addKey(this.backend, this.codec.key!, password)
  }

  /** Removes a key by id or unique prefix: never the last one, nor the one in use. */
  async removeKey(idOrPrefix: string): Promise<string> {
    return removeKey(this.backend, idOrPrefix, this.requireKey())
  }

  /** Replaces the password in use: adds a key for the new one, then removes the current key. */
  async changePassword(password: string): Promise<{ added: string; removed: string }> {
    const removed = this.requireKey()
    const added = await this.addKey(password)
    await retireKey(this.backend, removed, added)
    return { added, removed }
  }

  private requireKey(): string {
    if (this.keyId === undefined) {
      throw new RefusedError(
        `the repository at ${this.backend.location} is not encrypted: it has no keys`,
        'Encryption is chosen when a repository is created, with `drkit init --encrypt`.',
      )
    }
    return this.keyId
  }

  async close(): Promise<void> {
    await this.backend.close()
  }

  lock(resource: string, kind: LockKind, opts?: LockOptions): Promise<Lock> {
    return acquireLock(this.backend, resource, kind, opts)
  }

  /**
   * Takes the resource's writer lock, runs fn with a writer, and releases the lock.
   * fn ends with `writer.commitSnapshot(...)`; if it throws, nothing becomes visible.
   */
  async write<T>(resource: string, fn: (w: RepositoryWriter) => Promise<T>, opts?: LockOptions): Promise<T> {
    const lock = await this.lock(resource, 'write', opts)
    try {
      const index = await this.loadIndex()
      const indexed = (key: string) => this.loadedIndexes.add(key)
      return await fn(new RepositoryWriter(this.backend, index, resource, this.config.packSize, indexed, this.codec))
    } finally {
      // A lock that cannot be removed goes stale; failing to remove it must not hide the outcome.
      await lock.release().catch(() => undefined)
    }
  }

  /**
   * Snapshots, oldest first, of one resource or all. A damaged manifest is set aside in
   * `damagedSnapshots` (verify reports it) so that it cannot block every other restore.
   */
  async listSnapshots(resource?: string): Promise<Snapshot[]> {
    const found: Snapshot[] = []
    for await (const { key } of this.backend.list(keys.snapshotPrefix(resource))) {
      try {
        found.push(await this.readSnapshotKey(key))
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err
        if (!this.damagedSnapshots.some((d) => d.key === key)) this.damagedSnapshots.push({ key, error: err.message })
      }
    }
    return found.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id))
  }

  /** A resource's snapshot by id or unique id prefix (at least 4 hex digits), or its latest. */
  async findSnapshot(resource: string, idOrPrefix?: string): Promise<Snapshot> {
    const all = await this.listSnapshots(resource)
    if (!idOrPrefix) {
      const latest = all.at(-1)
      if (!latest) throw new NotFoundError(`${resource} has no snapshots yet`, `Run \`drkit backup ${resource}\`.`)
      return latest
    }
    const matches = all.filter((s) => s.id.startsWith(idOrPrefix.toLowerCase()))
    if (matches.length === 1) return matches[0]!
    const damaged = this.damagedSnapshots.find((d) => idOfKey(d.key).startsWith(idOrPrefix.toLowerCase()))
    if (matches.length === 0 && damaged) {
      throw new IntegrityError(
        damaged.error,
        'Run `drkit verify` to see what else is affected; restore another snapshot.',
      )
    }
    if (matches.length === 0) {
      throw new NotFoundError(
        `${resource} has no snapshot ${idOrPrefix}`,
        `List them with \`drkit snapshots ${resource}\`.`,
      )
    }
    throw new PlanError(`snapshot id ${idOrPrefix} is ambiguous`, 'Give more digits of the id.')
  }

  async readSnapshotKey(key: string): Promise<Snapshot> {
    const bytes = await this.backend.get(key)
    const id = idOfKey(key)
    if (sha256(bytes) !== id)
      throw new IntegrityError(`snapshot ${id.slice(0, 12)} does not match its hash: it is damaged`)
    return { ...decodeJson<Omit<Snapshot, 'id'>>(bytes, `snapshot ${id.slice(0, 12)}`, this.codec), id }
  }

  /** A stored stream's plaintext, chunk by chunk, every chunk checked against its hash. */
  async *readStream(ref: StreamRef, context: string): AsyncIterable<Uint8Array> {
    yield* (await this.blobReader()).readStream(ref, context)
  }

  writeSegment(resource: string, generation: string, data: SegmentData): Promise<SegmentRef> {
    return writeSegment(this.backend, resource, generation, data, this.codec)
  }

  listSegments(resource: string, generation?: string): Promise<SegmentRef[]> {
    return listSegments(this.backend, resource, generation)
  }

  readSegment(ref: SegmentRef): Promise<SegmentData> {
    return readSegment(this.backend, ref, this.codec)
  }

  writeHead(resource: string, generation: string, head: Boundary): Promise<void> {
    return writeHead(this.backend, resource, generation, head, this.codec)
  }

  readHeads(resource: string): Promise<Map<string, Boundary>> {
    return readHeads(this.backend, resource, this.codec)
  }

  writeBookmark(bookmark: Bookmark): Promise<void> {
    return writeBookmark(this.backend, bookmark, this.codec)
  }

  listBookmarks(resource?: string): Promise<Bookmark[]> {
    return listBookmarks(this.backend, this.codec, resource)
  }

  writeEvidence<Body>(record: Omit<EvidenceRecord<Body>, 'id'> & { id?: string }): Promise<EvidenceRecord<Body>> {
    return writeEvidence(this.backend, record, this.codec)
  }

  listEvidence<Body = unknown>(
    kind: EvidenceKind,
    opts?: { resource?: string; since?: Date },
  ): Promise<EvidenceRecord<Body>[]> {
    return listEvidence<Body>(this.backend, kind, this.codec, opts)
  }

  /** The index files whose records `loadIndex` holds. */
  get loadedIndexKeys(): ReadonlySet<string> {
    return this.loadedIndexes
  }

  async blobReader(): Promise<BlobReader> {
    return new BlobReader(this.backend, await this.loadIndex(), this.codec)
  }

  /**
   * The pack index, brought up to date: index files written since the last call (by this
   * or another process) are loaded, so a long-lived repository sees others' snapshots; when
   * one it had loaded is gone (a prune rewrote it), the whole index is read again.
   */
  async loadIndex(): Promise<PackIndex> {
    const present = new Set<string>()
    for await (const { key } of this.backend.list(keys.indexPrefix)) present.add(key)
    // An index file that went away was rewritten by a prune, which may have deleted packs it
    // named: start over, so that no write deduplicates against a blob that is gone.
    if ([...this.loadedIndexes].some((key) => !present.has(key))) {
      this.index = undefined
      this.loadedIndexes.clear()
      this.damagedIndexes.length = 0
    }
    this.index ??= new PackIndex()
    for (const key of present) {
      if (this.loadedIndexes.has(key)) continue
      // Counted as loaded only once read: a failed read is tried again by the next call.
      const bytes = await this.backend.get(key)
      this.loadedIndexes.add(key)
      const name = idOfKey(key)
      // A damaged index is set aside, not fatal: snapshots whose chunks it alone knew fail
      // to restore (and verify names them); every other snapshot still restores.
      try {
        if (sha256(bytes) !== name) throw new IntegrityError(`index ${name.slice(0, 12)} does not match its hash`)
        this.index.addRecords(decodeIndexFile(bytes, name.slice(0, 12), this.codec), name.slice(0, 12))
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err
        this.damagedIndexes.push({ key, error: err.message })
      }
    }
    return this.index
  }
}
