import { IntegrityError, NotFoundError, PlanError, RefusedError } from '../../errors.js'
import type { Backend } from '../backends/backend.js'
import { idOfKey, keys } from '../format.js'
import { sha256 } from '../hash.js'
import { describeKdf, type KeyFile, unwrapMasterKey, wrapMasterKey } from './key-file.js'

/** A key as `drkit key list` shows it; the wrapped master key is not part of it. */
export interface KeyInfo {
  /** SHA-256 of the key file. */
  id: string
  created: string
  host: string
  user: string
  kdf: string
  /** Whether this is the key the repository was opened with. */
  current: boolean
}

/** Stores a new key file for `password` wrapping `master`; returns its id. */
export async function addKey(backend: Backend, master: Uint8Array, password: string): Promise<string> {
  checkPassword(password)
  const bytes = Buffer.from(`${JSON.stringify(await wrapMasterKey(master, password), null, 2)}\n`)
  const id = sha256(bytes)
  await backend.put(keys.key(id), bytes, { ifAbsent: true })
  return id
}

/**
 * The master key and the id of the key file that `password` opens. Every key file is
 * tried; PlanError when none opens (a wrong password), never a key that decrypts garbage:
 * the key files are authenticated.
 */
export async function unlock(backend: Backend, password: string): Promise<{ master: Uint8Array; keyId: string }> {
  let found = 0
  const damaged: string[] = []
  for await (const { key } of backend.list(keys.keyPrefix)) {
    found++
    try {
      const master = await unwrapMasterKey(await readKeyFile(backend, key), password, key)
      if (master) return { master, keyId: idOfKey(key) }
    } catch (err) {
      // A damaged key file must not stop another key from opening the repository.
      if (!(err instanceof IntegrityError)) throw err
      damaged.push(key)
    }
  }
  if (found === 0) {
    throw new IntegrityError(
      `the repository at ${backend.location} is encrypted but has no key files: its data cannot be decrypted`,
      'Restore the keys/ folder from a copy of the repository.',
    )
  }
  const also = damaged.length > 0 ? ` (${damaged.join(', ')} ${damaged.length === 1 ? 'is' : 'are'} damaged)` : ''
  throw new PlanError(
    `wrong password: no key in ${backend.location} opens with it${also}`,
    'Check DRKIT_PASSWORD or the file given with --password-file; any password added with `drkit key add` works.',
  )
}

export async function listKeys(backend: Backend, currentId: string): Promise<KeyInfo[]> {
  const found: KeyInfo[] = []
  for await (const { key } of backend.list(keys.keyPrefix)) {
    const file = await readKeyFile(backend, key)
    const id = idOfKey(key)
    found.push({
      id,
      created: file.created,
      host: file.host,
      user: file.user,
      kdf: describeKdf(file.kdf),
      current: id === currentId,
    })
  }
  return found.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id))
}

/**
 * Removes the key with this id or unique id prefix. The last key and the key in use are
 * refused: either would lock everyone out, or this process out of its own repository.
 */
export async function removeKey(backend: Backend, idOrPrefix: string, currentId: string): Promise<string> {
  const all = await listKeys(backend, currentId)
  const matches = all.filter((k) => k.id.startsWith(idOrPrefix.toLowerCase()))
  if (matches.length === 0) {
    throw new NotFoundError(`there is no key ${idOrPrefix} in ${backend.location}`, 'List them with `drkit key list`.')
  }
  if (matches.length > 1) throw new PlanError(`key id ${idOrPrefix} is ambiguous`, 'Give more digits of the id.')
  const target = matches[0]!
  if (all.length === 1) {
    throw new RefusedError(
      `key ${target.id.slice(0, 8)} is the repository's last key: without it nothing could be decrypted`,
      'Add another password with `drkit key add` first.',
    )
  }
  if (target.current) {
    throw new RefusedError(
      `key ${target.id.slice(0, 8)} is the key of the password in use`,
      'Open the repository with another password to remove it, or change it with `drkit key passwd`.',
    )
  }
  await backend.delete(keys.key(target.id))
  return target.id
}

/** Removes the key in use once another one exists (for `key passwd`, after adding the new one). */
export async function retireKey(backend: Backend, currentId: string, replacementId: string): Promise<void> {
  if (currentId === replacementId) return
  await backend.delete(keys.key(currentId))
}

async function readKeyFile(backend: Backend, key: string): Promise<KeyFile> {
  const bytes = await backend.get(key)
  if (sha256(bytes) !== idOfKey(key)) throw new IntegrityError(`key file ${key} does not match its hash: it is damaged`)
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as KeyFile
  } catch (cause) {
    throw new IntegrityError(`key file ${key} is not valid JSON: it is damaged`, undefined, { cause })
  }
}

function checkPassword(password: string): void {
  if (password.length === 0) throw new PlanError('the password is empty', 'Choose a password that is not empty.')
}
