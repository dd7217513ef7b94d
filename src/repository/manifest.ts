/**
 * Snapshot manifests: the commit point of a snapshot. A manifest is written last, after
 * the packs and the index that hold everything it references, and is named by the
 * SHA-256 of its stored bytes.
 */
export type ChunkingSpec = { kind: 'pages'; pageSize: number } | { kind: 'cdc' }

/** One stored stream: its chunks' ids are kept in list blobs of 32-byte ids. */
export interface StreamRef {
  name: string
  chunking: ChunkingSpec
  /** Plaintext bytes. */
  size: number
  chunks: number
  /** Ids of the list blobs, in order; their concatenation is the chunk id sequence. */
  lists: string[]
}

export interface SnapshotStats {
  /** Plaintext bytes of all streams. */
  size: number
  /** Plaintext bytes of chunks this snapshot stored for the first time. */
  newBytes: number
  /** Bytes this snapshot added to the backend (packs and index, after compression). */
  storedBytes: number
  chunks: number
  newChunks: number
  durationMs: number
}

/** What a source hands over for a snapshot, besides its streams. */
export interface SnapshotDraft {
  sourceType: string
  position: { time: string; seq?: number; generation?: string }
  tables: { name: string; rows: number }[]
  details: Record<string, string | number | boolean>
}

export interface Snapshot extends SnapshotDraft {
  /** SHA-256 of the stored manifest; not part of the manifest itself. */
  id: string
  version: number
  resource: string
  /** When the snapshot was committed. */
  time: string
  host: string
  streams: StreamRef[]
  stats: SnapshotStats
}

export function shortId(id: string): string {
  return id.slice(0, 8)
}
