/**
 * Encryption at rest: the codec that seals every stored object (AES-256-GCM) and names
 * blobs by keyed hashes (HMAC-SHA-256), and the key files that wrap the master key with
 * passwords (scrypt). It knows nothing of packs or manifests: the repository hands every
 * object through a Codec, the same for plain and encrypted repositories.
 */
export { type Codec, encryptedCodec, plainCodec } from './codec.js'
export { masterKeyLength, newMasterKey } from './key-file.js'
export { addKey, type KeyInfo, listKeys, removeKey, retireKey, unlock } from './keys.js'
