import { Compressor, Decompressor } from 'zstd-napi'
import { IntegrityError } from '../errors.js'

/**
 * The envelope of every stored blob and repository file: one flag byte, then the payload.
 * Payloads that zstd does not shrink are stored raw, so incompressible data costs one byte.
 */
const raw = 0
const zstd = 1

const compressor = new Compressor()
compressor.setParameters({ compressionLevel: 3 })
const decompressor = new Decompressor()

export function encode(plain: Uint8Array): Uint8Array {
  const packed = compressor.compress(plain)
  const useZstd = packed.length + 1 < plain.length
  const body = useZstd ? packed : plain
  const out = new Uint8Array(body.length + 1)
  out[0] = useZstd ? zstd : raw
  out.set(body, 1)
  return out
}

export function decode(stored: Uint8Array, what: string): Uint8Array {
  const body = stored.subarray(1)
  switch (stored[0]) {
    case raw:
      return body
    case zstd:
      try {
        return decompressor.decompress(body)
      } catch (cause) {
        throw new IntegrityError(`${what} cannot be decompressed: it is damaged`, undefined, { cause })
      }
    default:
      throw new IntegrityError(`${what} has an unknown encoding (${stored[0]}): it is damaged or from a newer drkit`)
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
