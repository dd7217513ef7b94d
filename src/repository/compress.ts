import { IntegrityError } from '../errors.js'
import { DamageError, decode as decodeEnvelope, encode } from './frames.js'

/** Repository files (index files, manifests, segments) use the same envelope as frames. */
export { encode }

export function decode(stored: Uint8Array, what: string): Uint8Array {
  try {
    return decodeEnvelope(stored, what)
  } catch (err) {
    if (err instanceof DamageError) throw new IntegrityError(err.message)
    throw err
  }
}

/** Encodes a JSON document as a repository file. */
export function encodeJson(value: unknown): Uint8Array {
  return encode(Buffer.from(JSON.stringify(value)))
}

export function decodeJson<T>(stored: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(decode(stored, what)).toString('utf8')) as T
  } catch (cause) {
    if (cause instanceof IntegrityError) throw cause
    throw new IntegrityError(`${what} is not valid JSON: it is damaged`, undefined, { cause })
  }
}
