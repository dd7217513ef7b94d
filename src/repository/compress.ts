import { IntegrityError } from '../errors.js'
import { type Codec, plainCodec } from './crypto/codec.js'
import { DamageError } from './frames.js'

/**
 * Repository files (index files, manifests, segments, heads, bookmarks, evidence) use the
 * same envelope as frames, through the repository's codec: compressed, and encrypted when
 * the repository is.
 */
export function encode(plain: Uint8Array, codec: Codec = plainCodec): Uint8Array {
  return codec.encode(plain)
}

export function decode(stored: Uint8Array, what: string, codec: Codec = plainCodec): Uint8Array {
  try {
    return codec.decode(stored, what)
  } catch (err) {
    if (err instanceof DamageError) throw new IntegrityError(err.message)
    throw err
  }
}

/** Encodes a JSON document as a repository file. */
export function encodeJson(value: unknown, codec: Codec = plainCodec): Uint8Array {
  return encode(Buffer.from(JSON.stringify(value)), codec)
}

export function decodeJson<T>(stored: Uint8Array, what: string, codec: Codec = plainCodec): T {
  try {
    return JSON.parse(Buffer.from(decode(stored, what, codec)).toString('utf8')) as T
  } catch (cause) {
    if (cause instanceof IntegrityError) throw cause
    throw new IntegrityError(`${what} is not valid JSON: it is damaged`, undefined, { cause })
  }
}
