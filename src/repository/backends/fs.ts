import { randomBytes } from 'node:crypto'
import type { Dirent } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { type Backend, BackendError, type BackendErrorKind, type GetOptions, type ObjectInfo } from './backend.js'
import { readRange } from './fs-ranges.js'

type Range = NonNullable<GetOptions['range']>

const segment = /^[A-Za-z0-9._-]+$/
const keyRule = 'keys are /-separated names of [A-Za-z0-9._-], never ".", ".." or starting with ".tmp-"'

/** Throws BackendError('fatal') unless key follows the Backend key rules. Shared with the memory backend. */
export function checkKey(key: string): void {
  // `.tmp-` names are reserved for unfinished puts, which list skips.
  const valid = key.split('/').every((s) => segment.test(s) && s !== '.' && s !== '..' && !s.startsWith('.tmp-'))
  if (!valid) throw new BackendError('fatal', `invalid object key ${JSON.stringify(key)}: ${keyRule}`)
}

/** Checks the directory part of a list prefix (everything up to the last `/`) and returns it. */
export function checkPrefix(prefix: string): string {
  const dir = prefix.slice(0, Math.max(prefix.lastIndexOf('/'), 0))
  if (prefix.includes('/')) checkKey(dir)
  return dir
}

/** Throws unless range lies within an object of `size` bytes; past the end is 'integrity'. */
export function checkRange(key: string, { offset, length }: Range, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new BackendError('fatal', `invalid range of ${key}: offset ${offset}, length ${length}`)
  }
  if (offset + length > size) {
    const wanted = `bytes ${offset} to ${offset + length} were asked for`
    throw new BackendError('integrity', `${key} is shorter than expected: it has ${size} bytes, but ${wanted}`)
  }
}

// errno → kind; anything else is 'fatal'.
const errnoKinds: [BackendErrorKind, string[]][] = [
  ['not-found', ['ENOENT']],
  ['permission', ['EACCES', 'EPERM', 'EROFS']],
  ['no-space', ['ENOSPC', 'EDQUOT']],
  ['exists', ['EEXIST']],
  ['transient', ['EIO', 'EMFILE', 'ENFILE', 'EAGAIN']],
]

const code = (err: unknown) => (err instanceof Error && 'code' in err ? String(err.code) : undefined)
/** Not an object: nothing there, a parent is a file, or a directory of other keys. */
const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes(code(err) ?? '')

function notFound(key: string, root: string, cause?: unknown): BackendError {
  return new BackendError('not-found', `${key} does not exist in ${root}`, undefined, { cause })
}

function toBackendError(err: unknown, root: string, what: string): BackendError {
  if (err instanceof BackendError) return err
  const errno = code(err) ?? ''
  const kind = errnoKinds.find(([, codes]) => codes.includes(errno))?.[0] ?? 'fatal'
  if (kind === 'no-space') {
    const hint = 'Free some space and run the command again; nothing was committed.'
    return new BackendError(kind, `${what}: the disk at ${root} is full`, hint, { cause: err })
  }
  const hint = kind === 'permission' ? `Check that drkit may read and write ${root}.` : undefined
  return new BackendError(kind, `${what}: ${err instanceof Error ? err.message : String(err)}`, hint, { cause: err })
}

/**
 * Opens the directory `root` as a Backend; keys are paths below it. With `create`, a missing
 * directory is made (with its parents); without, it is BackendError('not-found').
 */
export async function openFsBackend(root: string, opts: { create?: boolean } = {}): Promise<Backend> {
  const base = path.resolve(root)
  try {
    const stat = await fs.stat(base).catch(async (err: unknown) => {
      if (code(err) !== 'ENOENT' || !opts.create) throw err
      await fs.mkdir(base, { recursive: true })
      return fs.stat(base)
    })
    if (!stat.isDirectory()) throw new BackendError('fatal', `the repository path ${root} is not a directory`)
  } catch (err) {
    if (code(err) !== 'ENOENT') throw toBackendError(err, root, `cannot open ${root}`)
    const hint = 'Check the repository path, or create the repository with `drkit init`.'
    throw new BackendError('not-found', `the repository directory ${root} does not exist`, hint, { cause: err })
  }

  const file = (key: string) => {
    checkKey(key)
    return path.join(base, key)
  }

  return {
    kind: 'fs',
    location: root,

    async put(key, body, opts) {
      const target = file(key)
      opts?.signal?.throwIfAborted()
      const dir = path.dirname(target)
      const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`)
      try {
        const created = await fs.mkdir(dir, { recursive: true })
        await writeSynced(tmp, body)
        let result: 'stored' | 'exists' = 'stored'
        if (!opts?.ifAbsent) await fs.rename(tmp, target)
        else result = await linkIfAbsent(tmp, target, key)
        // Also after 'exists': the put that linked it may not have synced the directory yet.
        await syncDirs(dir, created)
        return result
      } catch (err) {
        throw toBackendError(err, root, `cannot store ${key}`)
      } finally {
        // Gone after a rename; after a link or a failure, remove it. A leftover is harmless: list skips it.
        await fs.rm(tmp, { force: true }).catch(() => undefined)
      }
    },

    async get(key, opts) {
      const target = file(key)
      opts?.signal?.throwIfAborted()
      try {
        if (!opts?.range) return await fs.readFile(target)
        const { offset, length } = opts.range
        return await readRange(target, offset, length, (size) => checkRange(key, { offset, length }, size))
      } catch (err) {
        throw isMissing(err) ? notFound(key, root, err) : toBackendError(err, root, `cannot read ${key}`)
      }
    },

    async stat(key) {
      const target = file(key)
      try {
        const stat = await fs.stat(target)
        return stat.isFile() ? { key, size: stat.size } : undefined
      } catch (err) {
        if (isMissing(err)) return undefined
        throw toBackendError(err, root, `cannot stat ${key}`)
      }
    },

    async *list(prefix, opts) {
      const dir = checkPrefix(prefix)
      try {
        for await (const info of walk(path.join(base, dir), dir, opts?.signal)) {
          if (info.key.startsWith(prefix)) yield info
        }
      } catch (err) {
        throw opts?.signal?.aborted ? err : toBackendError(err, root, `cannot list ${prefix || 'all objects'}`)
      }
    },

    async delete(key) {
      const target = file(key)
      try {
        await fs.unlink(target)
      } catch (err) {
        if (!isMissing(err)) throw toBackendError(err, root, `cannot delete ${key}`)
      }
    },

    async close() {},
  }
}

async function writeSynced(file: string, body: Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'wx')
  try {
    await handle.writeFile(body)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Links tmp to target unless something is there: an existing key is never replaced. */
async function linkIfAbsent(tmp: string, target: string, key: string): Promise<'stored' | 'exists'> {
  try {
    await fs.link(tmp, target)
    return 'stored'
  } catch (err) {
    if (code(err) !== 'EEXIST') throw err
    if ((await fs.lstat(target)).isFile()) return 'exists'
    throw new BackendError('fatal', `cannot store ${key}: a directory is in the way`, undefined, { cause: err })
  }
}

/** Makes the new entries durable: the file's directory, and the parent of each directory mkdir created. */
async function syncDirs(dir: string, firstCreated: string | undefined): Promise<void> {
  const top = firstCreated ? path.dirname(firstCreated) : dir
  for (let d = dir; ; d = path.dirname(d)) {
    const handle = await fs.open(d, 'r')
    try {
      await handle.sync()
    } catch (err) {
      // Some filesystems (CIFS, some FUSE) cannot fsync a directory; restic ignores this too.
      if (code(err) !== 'EINVAL' && code(err) !== 'ENOTSUP') throw err
    } finally {
      await handle.close()
    }
    if (d === top || d === path.dirname(d)) return
  }
}

/** Every regular file below dir as a key below rel, skipping unfinished puts (`.tmp-*`). */
async function* walk(dir: string, rel: string, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo> {
  signal?.throwIfAborted()
  let entries: Dirent[]
  try {
    entries = await fs.readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (isMissing(err)) return
    throw err
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.tmp-')) continue
    const key = rel ? `${rel}/${entry.name}` : entry.name
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) yield* walk(full, key, signal)
    else if (entry.isFile()) {
      // A file deleted since readdir is simply not listed.
      const stat = await fs.stat(full).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)))
      if (stat) yield { key, size: stat.size }
    }
  }
}
