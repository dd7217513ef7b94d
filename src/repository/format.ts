/**
 * The repository's key layout and format version; docs/FORMAT.md describes the same.
 * Every key is built here so that the layout is readable in one place.
 */
export const formatVersion = 1

/**
 * Encrypted repositories say version 2 in their config, so that a drkit that cannot
 * decrypt refuses them instead of calling every object damaged. Their manifests, index
 * files and packs have the same layout as version 1 inside the encryption.
 */
export const encryptedFormatVersion = 2

/** Packs are cut when they reach this size, so an object store sees few, large objects. */
export const defaultPackSize = 16 * 1024 * 1024

/** Chunk lists are stored as blobs of at most this many 32-byte ids (128 KiB). */
export const idsPerListBlob = 4096

export const keys = {
  config: 'config',
  pack: (id: string) => `data/${id.slice(0, 2)}/${id}`,
  packPrefix: 'data/',
  index: (id: string) => `index/${id}`,
  indexPrefix: 'index/',
  snapshot: (resource: string, id: string) => `snapshots/${resource}/${id}`,
  snapshotPrefix: (resource?: string) => (resource ? `snapshots/${resource}/` : 'snapshots/'),
  segment: (resource: string, generation: string, name: string) => `segments/${resource}/${generation}/${name}`,
  segmentPrefix: (resource: string, generation?: string) =>
    generation ? `segments/${resource}/${generation}/` : `segments/${resource}/`,
  head: (resource: string, generation: string) => `heads/${resource}/${generation}`,
  headPrefix: (resource: string) => `heads/${resource}/`,
  bookmark: (resource: string, name: string) => `bookmarks/${resource}/${name}`,
  bookmarkPrefix: (resource?: string) => (resource ? `bookmarks/${resource}/` : 'bookmarks/'),
  /** Time first (colons dropped, so keys stay portable), so keys sort oldest first. */
  evidence: (kind: string, time: string, id: string) => `evidence/${kind}/${time.replace(/[:]/g, '')}-${id}`,
  evidencePrefix: (kind: string) => `evidence/${kind}/`,
  key: (id: string) => `keys/${id}`,
  keyPrefix: 'keys/',
  lock: (id: string) => `locks/${id}`,
  lockPrefix: 'locks/',
}

/** The last segment of a key: the object's id. */
export function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

const hexId = /^[0-9a-f]{64}$/

export function isId(text: string): boolean {
  return hexId.test(text)
}
