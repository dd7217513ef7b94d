import { createHash } from 'node:crypto'

/** SHA-256 of the bytes, as 64 lowercase hex digits: the name of every chunk, pack and file. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
