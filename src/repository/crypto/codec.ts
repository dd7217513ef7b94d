import { blobId, decode, encode } from '../frames.js'

/**
 * How a repository turns plaintext into stored bytes and back, and names blobs. Plain and
 * encrypted repositories differ only here: everything above the pack layer takes a Codec.
 */
export interface Codec {
  /** Whether stored objects are encrypted (the repository's config says so). */
  readonly encrypted: boolean
  /** The master key handed to frame workers (frames.js); absent in a plain repository. */
  readonly key?: Uint8Array
  /** A blob's id: SHA-256 of the plaintext, or its HMAC-SHA-256 with the id key when encrypted. */
  blobId(plain: Uint8Array): string
  /** The stored envelope: compressed, then encrypted when the repository is. */
  encode(plain: Uint8Array): Uint8Array
  /** The plaintext back; DamageError (frames.js) when it cannot be decoded or authenticated. */
  decode(stored: Uint8Array, what: string): Uint8Array
}

export const plainCodec: Codec = {
  encrypted: false,
  blobId: (plain) => blobId(plain),
  encode: (plain) => encode(plain),
  decode: (stored, what) => decode(stored, what),
}

/** The codec of an encrypted repository, from its 64-byte master key (encryption key, then id key). */
export function encryptedCodec(key: Uint8Array): Codec {
  return {
    encrypted: true,
    key,
    blobId: (plain) => blobId(plain, key),
    encode: (plain) => encode(plain, key),
    decode: (stored, what) => decode(stored, what, key),
  }
}
