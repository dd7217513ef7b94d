import type { DrillKind } from '../plan/drills.js'

/**
 * A drill's measured result: the body of the `drill` evidence records kept in the
 * repository (`status`, `report` and `runbook` read it). The shape is versioned; fields are
 * only ever added. Durations are milliseconds, moments ISO 8601.
 */
export interface DrillReport {
  version: 1
  /** The drill's name in the plan. */
  name: string
  kind: DrillKind
  /** The resource the drill exercises; absent for drills of no one resource (full-recovery, some custom ones). */
  resource?: string
  /** Where the scenario ran. */
  environment: DrillEnvironment
  started: string
  finished: string
  durationMs: number
  /** Passed: every step succeeded, every assertion held and every objective that is set was met. */
  ok: boolean
  rto: RtoMeasure
  rpo: RpoMeasure
  steps: DrillStepReport[]
  /** Why the drill failed, and anything else worth a look, in the user's words. */
  issues: string[]
  /** When it failed: its issues in one line, for summaries. */
  reason?: string
}

export interface DrillEnvironment {
  /** `scratch`: throwaway targets removed after the drill; `staging`: the plan's staging resource. */
  kind: 'scratch' | 'staging'
  /** The staging resource's name. */
  staging?: string
  /** The targets the drill restored into (files, directories, redis:// URLs), by resource. */
  targets: Record<string, string>
  host: string
  drkitVersion: string
}

/** Recovery time: from the moment the fault was injected to the moment the recovered state was verified. */
export interface RtoMeasure {
  /** The objective (the drill's own, else the resource's). */
  targetMs?: number
  /** Absent when the drill failed before recovery was verified. */
  actualMs?: number
  /** Absent when either figure is. */
  met?: boolean
  faultAt?: string
  recoveredAt?: string
}

/** Recovery point: the committed data the recovery lost, against the state just before the fault. */
export interface RpoMeasure {
  targetMs?: number
  /** The window of lost changes: 0 when the recovered state equals the state before the fault. */
  actualMs?: number
  /** How many committed changes (rows, keys, files) were lost. */
  changesLost?: number
  /** True when changesLost was counted from captured changes; false when estimated from fingerprints (a lower bound). */
  exact?: boolean
  met?: boolean
  /** The moment the recovered state is proven for. */
  recoveredPoint?: string
}

export interface DrillStepReport {
  /** 1-based, in the order the steps ran. */
  n: number
  /** The step kind: restore, sql, exec, http, fault, bookmark, assert, wait, verify, … */
  kind: string
  title: string
  ok: boolean
  started: string
  durationMs: number
  /** What the step did or found. */
  detail?: string
  /** Why it failed. */
  error?: string
}
