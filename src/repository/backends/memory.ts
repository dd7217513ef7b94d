import { type Backend, BackendError } from './backend.js'
import { checkKey, checkPrefix, checkRange } from './fs.js'

/**
 * A Backend in a Map, for tests: the same key rules and errors as the fs backend. Buffers
 * are copied in and out, so a caller mutating its buffer cannot change what is stored.
 */
export function openMemoryBackend(): Backend {
  const objects = new Map<string, Uint8Array>()
  const location = 'memory:'
  return {
    kind: 'memory',
    location,

    async put(key, body, opts) {
      checkKey(key)
      opts?.signal?.throwIfAborted()
      if (opts?.ifAbsent && objects.has(key)) return 'exists'
      objects.set(key, new Uint8Array(body))
      return 'stored'
    },

    async get(key, opts) {
      checkKey(key)
      opts?.signal?.throwIfAborted()
      const data = objects.get(key)
      if (!data) throw new BackendError('not-found', `${key} does not exist in ${location}`)
      if (!opts?.range) return data.slice()
      checkRange(key, opts.range, data.length)
      return data.slice(opts.range.offset, opts.range.offset + opts.range.length)
    },

    async stat(key) {
      checkKey(key)
      const data = objects.get(key)
      return data && { key, size: data.length }
    },

    async *list(prefix, opts) {
      checkPrefix(prefix)
      // A copy, so that puts and deletes while listing do not disturb the iteration.
      for (const [key, data] of [...objects]) {
        opts?.signal?.throwIfAborted()
        if (key.startsWith(prefix)) yield { key, size: data.length }
      }
    },

    async delete(key) {
      checkKey(key)
      objects.delete(key)
    },

    async close() {},
  }
}
