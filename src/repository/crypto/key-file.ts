import { createCipheriv, createDecipheriv, randomBytes, type ScryptOptions, scrypt } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { IntegrityError } from '../../errors.js'

/**
 * A key file holds the repository's master key wrapped by a key derived from one
 * password, so that several passwords open one repository and a password can change
 * without re-encrypting any data. It is JSON, readable before anything is decrypted:
 *
 *   { version: 1, created, host, user,
 *     kdf: { name: "scrypt", N, r, p, salt },          salt: base64, 16 bytes
 *     cipher: "aes-256-gcm", nonce, data }             data: base64 ciphertext + tag of the master key
 */
export interface KeyFile {
  version: 1
  created: string
  host: string
  user: string
  kdf: KdfParams
  cipher: 'aes-256-gcm'
  nonce: string
  data: string
}

export interface KdfParams {
  name: 'scrypt'
  N: number
  r: number
  p: number
  salt: string
}

/** The master key: 32 bytes of AES-256 key, then 32 bytes of HMAC key for blob ids. */
export const masterKeyLength = 64

/** scrypt at 2^15 × 8 costs 32 MiB and about 0.1 s per try: slow for guessing, quick for one open. */
const defaultCost = { N: 2 ** 15, r: 8, p: 1 }
/** Costs read from a key file are bounded, so that a planted key file cannot exhaust memory. */
const maxN = 2 ** 20

export function newMasterKey(): Uint8Array {
  return new Uint8Array(randomBytes(masterKeyLength))
}

/** A key file wrapping `master` with a key derived from `password`. */
export async function wrapMasterKey(master: Uint8Array, password: string): Promise<KeyFile> {
  const kdf: KdfParams = { name: 'scrypt', ...defaultCost, salt: randomBytes(16).toString('base64') }
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', await deriveKey(password, kdf), nonce)
  const data = Buffer.concat([cipher.update(master), cipher.final(), cipher.getAuthTag()])
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // A user without a passwd entry (some containers) is recorded as unknown.
  }
  return {
    version: 1,
    created: new Date().toISOString(),
    host: hostname(),
    user,
    kdf,
    cipher: 'aes-256-gcm',
    nonce: nonce.toString('base64'),
    data: data.toString('base64'),
  }
}

/** The master key, or undefined when `password` does not open this key file. */
export async function unwrapMasterKey(file: KeyFile, password: string, name: string): Promise<Uint8Array | undefined> {
  checkKeyFile(file, name)
  const key = await deriveKey(password, file.kdf)
  const data = Buffer.from(file.data, 'base64')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.nonce, 'base64'))
  decipher.setAuthTag(data.subarray(data.length - 16))
  try {
    const master = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()])
    return master.length === masterKeyLength ? new Uint8Array(master) : undefined
  } catch {
    return undefined
  }
}

/** "scrypt N=32768 r=8 p=1", for listings. */
export function describeKdf(kdf: KdfParams): string {
  return `${kdf.name} N=${kdf.N} r=${kdf.r} p=${kdf.p}`
}

function checkKeyFile(file: KeyFile, name: string): void {
  const { kdf } = file
  const valid =
    file.version === 1 &&
    file.cipher === 'aes-256-gcm' &&
    kdf?.name === 'scrypt' &&
    Number.isInteger(kdf.N) &&
    kdf.N > 1 &&
    kdf.N <= maxN &&
    (kdf.N & (kdf.N - 1)) === 0 &&
    Number.isInteger(kdf.r) &&
    kdf.r >= 1 &&
    kdf.r <= 32 &&
    Number.isInteger(kdf.p) &&
    kdf.p >= 1 &&
    kdf.p <= 16 &&
    typeof file.nonce === 'string' &&
    typeof file.data === 'string'
  if (!valid) throw new IntegrityError(`key file ${name} is damaged or of an unknown kind`)
}

function deriveKey(password: string, kdf: KdfParams): Promise<Buffer> {
  const options: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
}
