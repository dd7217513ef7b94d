import type { WrittenDrill } from './drills.js'
import type { alertSchema, contactSchema, ResourceTypes } from './schema.js'
import type * as z from './zod.js'

/** The parsed, validated `drkit.yaml`: defaults filled, `${ENV}` resolved, durations in milliseconds. */
export interface Plan {
  /** Absolute path of the plan file, when it came from one. */
  file?: string
  /** The plan file's folder: relative paths in the plan are relative to it. */
  baseDir: string
  repository: RepositoryConfig
  resources: Record<string, Resource>
  alerts: Alert[]
  drills: Drill[]
  contacts: Contact[]
}

/** Where the repository lives: a folder on the `fs` backend, or a bucket and prefix on `s3`. */
export type RepositoryConfig =
  | { url: string; kind: 'fs' /** absolute */; path: string }
  | { url: string; kind: 's3'; bucket: string /** without leading or trailing slashes; may be empty */; prefix: string }

export interface Resource {
  name: string
  type: string
  /**
   * The output of the type's schema.
   * Relative paths in it are left as written: sources resolve them against baseDir.
   */
  config: unknown
  objectives: Objectives
  /** Continuous change capture; absent when the plan does not ask for it. */
  capture?: { intervalMs: number }
  snapshots?: { schedule?: string }
  retention?: RetentionPolicy
}

/** RTO and RPO; absent when the plan sets none. */
export interface Objectives {
  rpoMs?: number
  rtoMs?: number
}

/** How many snapshots to keep per period, and for how long to keep everything. */
export interface RetentionPolicy {
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  /** Keep every snapshot younger than this. */
  withinMs?: number
  /** Keep captured changes this long: how far back point-in-time restore reaches. */
  pitrMs?: number
  /** When the agent applies the policy (cron, UTC); without it, only `drkit forget` does. */
  schedule?: string
}

export type Alert = z.output<typeof alertSchema>
export type Contact = z.output<typeof contactSchema>
/** A drill: its kind's options, its steps normalized, its objectives in milliseconds. */
export interface Drill extends Omit<WrittenDrill, 'objectives'> {
  objectives: Objectives
}

export interface LoadPlanOptions {
  /** Where `${VAR}` values come from; process.env by default. */
  env?: Record<string, string | undefined>
  /**
   * Per resource type, the schema of the type's own options (not the common `type`, `objectives`,
   * `capture`, `snapshots` and `retention`). It should be strict, so that misspelt options are caught.
   */
  resourceTypes: ResourceTypes
}
