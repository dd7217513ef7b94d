/**
 * Scratch targets: throwaway places a drill or a restore test restores a resource into (a
 * temporary SQLite file, a temporary directory, a spare Redis database, a new PostgreSQL
 * database). One file per source type and one line in `scratchTargets`; a type without an entry cannot be drilled.
 * They never touch the live resource.
 */
import { PlanError } from '../../errors.js'
import type { Resource } from '../../plan/index.js'
import { filesScratch } from './files.js'
import { postgresScratch } from './postgres.js'
import { redisScratch } from './redis.js'
import { sqliteScratch } from './sqlite.js'

/** A target a drill works on: a scratch copy, or the plan's staging resource. */
export interface ScratchTarget {
  /** What ops.restore takes as `target`: an absolute path or a URL. */
  readonly target: string
  /** The resource's type options with its location pointed at the target, for a resource that lives there. */
  readonly config: unknown
  /**
   * Runs one SQL statement on the target and returns the first column of the first row
   * (undefined when it returns no row). Present for types that speak SQL.
   */
  query?(sql: string): Promise<unknown>
  /** Destroys the application data in the target (the target stays usable): the default fault. */
  wipe(): Promise<void>
  /** Removes the target and its data; a staging resource is left as it is. Idempotent. */
  remove(): Promise<void>
}

export interface ScratchOptions {
  /** A private folder for this run's files, removed by the caller afterwards. */
  dir: string
  /** A name for the target (a file or folder name in `dir`). */
  label: string
  /** The plan's folder: relative paths resolve against it. */
  baseDir: string
  /** A target the user named instead of one chosen here. */
  given?: string
  /** Every resource of the plan, so a chosen target is none of them. */
  resources: Resource[]
}

export interface ScratchFactory {
  /** Capabilities as data: whether targets of this type take `query`. */
  readonly sql: boolean
  /** A new, empty target for a copy of `resource`. */
  create(resource: Resource, opts: ScratchOptions): Promise<ScratchTarget>
  /** The location of an existing resource (a staging resource) as a target; `remove` leaves it alone. */
  existing(resource: Resource, baseDir: string): Promise<ScratchTarget>
}

export const scratchTargets = {
  sqlite: sqliteScratch,
  files: filesScratch,
  redis: redisScratch,
  postgres: postgresScratch,
} satisfies Record<string, ScratchFactory>

/** The scratch factory of a resource's type; PlanError when there is none. */
export function scratchFactory(resource: Resource): ScratchFactory {
  const factory = (scratchTargets as Record<string, ScratchFactory>)[resource.type]
  if (!factory) {
    throw new PlanError(
      `${resource.name}: resources of type ${resource.type} have no scratch target to restore into yet`,
      `Scratch targets exist for ${Object.keys(scratchTargets).join(', ')}.`,
    )
  }
  return factory
}
