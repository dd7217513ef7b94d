/**
 * The plan: turns `drkit.yaml` into a validated, normalized Plan, or a PlanError that lists every
 * issue at once. Pure apart from reading the file; it knows no source or backend, whose option
 * schemas the caller passes in.
 */

export { type DrillKind, type DrillStep, drillKinds, type StepKind, stepKinds } from './drills.js'
export {
  type CalendarUnit,
  durationSchema,
  type Every,
  formatDuration,
  nextDue,
  parseDuration,
  parseEvery,
} from './duration.js'
export { loadPlan, parsePlan } from './load.js'
export type { ResourceTypes } from './schema.js'
export { formatInitialPlan } from './template.js'
export type {
  Alert,
  Contact,
  Drill,
  LoadPlanOptions,
  Objectives,
  Plan,
  RepositoryConfig,
  Resource,
  RetentionPolicy,
} from './types.js'
