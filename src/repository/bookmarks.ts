import { PlanError } from '../errors.js'
import type { Backend } from './backends/backend.js'
import { decodeJson, encodeJson } from './compress.js'
import type { Codec } from './crypto/codec.js'
import { keys } from './format.js'

/** A named position of a resource: a proven boundary in one generation. */
export interface Bookmark {
  name: string
  resource: string
  generation: string
  seq: number
  /** The boundary's time (ms since the epoch). */
  time: number
  created: string
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

export function checkBookmarkName(name: string): void {
  if (!namePattern.test(name)) {
    throw new PlanError(
      `"${name}" is not a valid bookmark name`,
      'Use letters, digits, dots, dashes and underscores, starting with a letter or digit.',
    )
  }
}

/** Stores a bookmark; a bookmark of the same name is replaced. */
export async function writeBookmark(backend: Backend, bookmark: Bookmark, codec: Codec): Promise<void> {
  checkBookmarkName(bookmark.name)
  await backend.put(keys.bookmark(bookmark.resource, bookmark.name), encodeJson(bookmark, codec))
}

export async function listBookmarks(backend: Backend, codec: Codec, resource?: string): Promise<Bookmark[]> {
  const found: Bookmark[] = []
  for await (const { key } of backend.list(keys.bookmarkPrefix(resource))) {
    found.push(decodeJson<Bookmark>(await backend.get(key), `bookmark ${key}`, codec))
  }
  return found.sort((a, b) => a.time - b.time || a.name.localeCompare(b.name))
}
