import type { Boundary, Change } from '../model.js'
import type { ZodType } from '../plan/zod.js'

export type { Boundary, Change, Row, Value } from '../model.js'

/** A source's own order together with wall-clock time (ISO 8601). */
export interface Position {
  time: string
  /** The source's own order: a capture sequence for SQLite, an LSN for PostgreSQL. */
  seq?: number
  /** The capture generation the position belongs to, when capture is installed. */
  generation?: string
}

/** How the repository should cut a stream into chunks. */
export type Chunking = { kind: 'pages'; pageSize: number } | { kind: 'cdc' }

/** One named byte stream of an image (the pages of a database file, a table, a file). */
export interface NamedStream {
  name: string
  chunking: Chunking
  /** With `pages` chunking each yielded buffer holds whole pages. */
  data: AsyncIterable<Uint8Array>
}

export interface TableInfo {
  name: string
  rows: number
}

/**
 * A stream stored unchanged by the parent snapshot: the backup references the parent's
 * stored stream of the same name instead of reading anything (see `ParentImage`).
 */
export interface ParentStream {
  name: string
  sameAsParent: true
}

/**
 * The resource's previous snapshot, handed to sources that can skip what has not changed
 * since (capabilities.reusesParent). Its streams are those the repository still holds whole.
 */
export interface ParentImage {
  /** The parent snapshot's id, for the new snapshot's details. */
  id: string
  details: Record<string, string | number | boolean>
  /** Whether the parent has a stream of this name that a new snapshot may reference as it is. */
  has(name: string): boolean
  /** One of the parent's streams, read back from the repository (NotFoundError when `has` is false). */
  read(name: string): AsyncIterable<Uint8Array>
}

/** A consistent image of a resource at one Position. */
export interface SourceImage {
  position: Position
  /** Tables (or keyspaces) and their row counts, as of the image. */
  tables: TableInfo[]
  /** Source-specific facts a restore needs (page size, journal mode, server version). */
  details: Record<string, string | number | boolean>
  /** Streams are consumed in order, each to its end, before the next is requested. */
  streams: AsyncIterable<NamedStream | ParentStream>
}

/** What a restore reads back from the repository: the same streams, in the same order. */
export interface StoredImage {
  details: Record<string, string | number | boolean>
  streams: AsyncIterable<{ name: string; data: AsyncIterable<Uint8Array> }>
}

/** Per table (or keyspace): row count and a content hash, to compare two states. */
export interface Fingerprint {
  tables: Record<string, { rows: number; hash: string }>
}

export interface RestoreOptions {
  /** Replace an existing, non-empty target. */
  force?: boolean
  /** Changes to apply after the image, in order (point-in-time restores). */
  changes?: AsyncIterable<Change>
  /** Restore only these parts (partial restore): table names, key patterns or path patterns (see `PartSelector`). */
  tables?: string[]
  /** Restore only the rows that match this SQL condition, in every restored table that has the columns it names. */
  where?: string
  /** Write a portable file at the target instead of a live database (sources whose capabilities list the format). */
  format?: 'sql'
  signal?: AbortSignal
}

export interface RestoreResult {
  /** Where the restore wrote, as the user would name it. */
  target: string
  bytes: number
  /** What was written, counted in the source's own units: `{ files, directories, links }`, `{ keys, expired }`. */
  counts?: Record<string, number>
}

/** What a partial restore selects, named as the restore flag is: tables, key patterns or path patterns. */
export type PartSelector = 'tables' | 'keys' | 'paths'

export interface SourceCapabilities {
  capture: boolean
  /** What `restore --tables|--keys|--paths` selects for this source; false when it restores only whole. */
  partialRestore: PartSelector | false
  exactTransactionBoundaries: boolean
  /** File formats a restore can write instead of a live target (`restore --format`). */
  formats?: 'sql'[]
  /** Whether a snapshot can reference unchanged streams of the previous one (`snapshot({ parent })`). */
  reusesParent?: boolean
}

export interface SnapshotOptions {
  signal?: AbortSignal
  /** The previous snapshot, for sources that reuse it (capabilities.reusesParent); absent for a full read. */
  parent?: ParentImage
}

/** An open source: the adapter for one resource. */
export interface Source {
  readonly capabilities: SourceCapabilities
  /**
   * A consistent image at one Position. The image stays consistent while the caller
   * consumes its streams, even while applications keep writing; resources held for it
   * are released when the last stream ends or the iteration is abandoned.
   */
  snapshot(opts?: SnapshotOptions): Promise<SourceImage>
  /**
   * Writes an image into target. Refuses (RefusedError) an existing, non-empty target
   * unless `force`; never leaves a half-written target where the user will look.
   */
  restore(image: StoredImage, target: string, opts?: RestoreOptions): Promise<RestoreResult>
  /** Change capture, for sources that can (capabilities.capture). */
  readonly capture?: Capture
  /** The fingerprint of the live resource ('source') or of a restored target. */
  fingerprint(of: 'source' | { target: string }, opts?: { tables?: string[] }): Promise<Fingerprint>
  close(): Promise<void>
  /** The live resource's rows by identity (diff and undo), for sources that can. */
  readonly rows?: LiveRows
}

export interface SourceContext {
  /** The resource's name in the plan, for messages. */
  resource: string
  /** The directory the plan file lives in: relative paths are resolved against it. */
  baseDir: string
}

/** A source type: its part of the plan schema and how to open it. */
export interface SourceDefinition<Config = unknown> {
  readonly type: string
  /** The plan's `resources.<name>` fields that belong to this type. */
  readonly configSchema: ZodType<Config>
  open(config: Config, ctx: SourceContext): Promise<Source>
}

/** What a capture installed in a live resource is: its generation and how far it has counted. */
export interface CaptureState {
  /** Changes with the same generation form one unbroken stretch of the timeline. */
  generation: string
  /** The newest change recorded so far (0 before the first). */
  seq: number
}

/** The outcome of one committed read of the captured changes. */
export interface CaptureRead {
  state: CaptureState
  /**
   * The boundary this read proves: the newest committed change when it ran. A read that
   * stops inside a transaction (one larger than `limit`) proves nothing past its last commit.
   */
  boundary: Boundary
  /** Changes after `after`, in order; about `limit` at most (one source message may carry several). */
  changes: Change[]
  /** Every transaction boundary among `changes`, for sources that know them exactly (PostgreSQL commits). */
  boundaries?: Boundary[]
  /** Set when the capture cannot continue the generation: the schema changed, or changes are missing. */
  broken?: { reason: 'schema-change' | 'gap' | 'reinstalled'; detail: string }
}

/**
 * Continuous change capture in a live resource. Reads never lose or reorder a committed
 * change; changes stay in the resource until `acknowledge` says they are stored.
 */
export interface Capture {
  /** Installs capture (idempotent) and returns its state; a new install starts a new generation. */
  install(): Promise<CaptureState & { installed: boolean; warnings: string[] }>
  /** The current generation and a boundary proven now; undefined when capture is not installed. */
  position(): Promise<{ generation: string; boundary: Boundary } | undefined>
  /** A boundary when something was committed since the last poll: cheap, for frequent calls. */
  poll(): Promise<Boundary | undefined>
  /** Committed changes after `after` (in generation), read in one consistent view. */
  read(generation: string, after: number, limit: number): Promise<CaptureRead>
  /** Removes changes up to and including seq from the resource: they are stored. */
  acknowledge(upTo: number): Promise<void>
  /** Starts a new generation with capture reinstalled for the current schema. */
  reinstall(): Promise<CaptureState>
  /** Takes capture out of the resource entirely. */
  remove(): Promise<void>
  /** How far the resource holds changes not yet stored, for sources that keep them on the server (a replication slot). */
  lag?(): Promise<CaptureLag | undefined>
  close(): Promise<void>
}

/** What the resource keeps for capture that the repository does not hold yet. */
export interface CaptureLag {
  /** Bytes the server retains for capture (WAL behind a replication slot). */
  bytes: number
  /** Age of the oldest change not yet stored (0 when none is waiting). */
  seconds: number
  /** Whether an agent is reading right now. */
  active: boolean
  /** Set when the lag needs attention (an abandoned slot makes the server keep WAL forever). */
  warning?: string
}

type Row = import('../model.js').Row

/** A table of the live resource as it is now. */
export interface LiveTable {
  name: string
  /** The columns a row image holds (not generated or hidden ones). */
  columns: string[]
  /** What identifies a row: `['rowid']` for rowid tables, the primary key's columns otherwise. */
  key: string[]
  /** Whether the key is the rowid (and not a primary key column that happens to be called rowid). */
  byRowid: boolean
}

/** A row's identity: `{ rowid }` in a rowid table, the primary key's columns in a WITHOUT ROWID table. */
export interface RowKey {
  table: string
  key: Row
}

/** One row write: `row` holds the image's columns (for a rowid table, the rowid is in `key`). */
export type RowWrite = RowKey & ({ op: 'insert' | 'update'; row: Row } | { op: 'delete' })

/** Which row images matched a condition, and the tables it could not apply to. */
export interface RowMatch {
  /** One per image, in order. */
  matches: boolean[]
  /** Tables in scope lacking a column the condition names: their images all match. */
  unfiltered: string[]
}

/**
 * The rows of a live resource, read and written by identity. Writes are ordinary writes
 * of the application's data: the resource's own triggers fire, and capture records them.
 */
export interface LiveRows {
  /** The application's tables, by name. */
  tables(): Promise<LiveTable[]>
  /**
   * Which row images match `where`, a SQL condition over a row's own columns, evaluated
   * apart from the resource with each table's column types. PlanError when it does not
   * parse, names something other than columns, or names columns no table in `scope` has.
   */
  match(where: string, scope: string[], images: { table: string; row: Row }[]): Promise<RowMatch>
  /** The live rows with these identities (null where there is none), read in one transaction. */
  read(keys: RowKey[]): Promise<(Row | null)[]>
  /**
   * In one write transaction: reads the rows with these identities, hands them to
   * `decide`, and applies the writes it returns, in order. No other writer comes in
   * between. Foreign keys are not enforced row by row (no cascades run), but a write that
   * leaves a reference dangling that was not before fails the whole transaction. Any
   * failure rolls back everything (DrkitError).
   */
  write(keys: RowKey[], decide: (current: (Row | null)[]) => RowWrite[]): Promise<void>
  /**
   * For sources whose captured images can be partial (PostgreSQL logs only the key of an
   * updated or deleted row, and leaves out unchanged TOASTed values): the rows with these
   * identities in a stored image (null where it has none), in the same order, read from
   * the image's streams without loading more than those rows. Streams of tables no key
   * names are not read.
   */
  storedRows?(image: StoredImage, keys: RowKey[]): Promise<(Row | null)[]>
}
