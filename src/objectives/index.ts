/**
 * Objectives against reality, decided purely: how fresh the newest recoverable point is
 * against the RPO, which scheduled snapshots are missing, which moments damage makes
 * unrecoverable, which drills are due, and how long a restore is predicted to take. It
 * reads nothing itself: ops/ hands it timelines, snapshot times and evidence.
 */
export { type Coverage, planCoverage } from './coverage.js'
export { type DrillDue, drillsDue } from './drills.js'
export { assessFreshness, type Freshness, formatAge } from './freshness.js'
export { type Interval, subtractWindows } from './intervals.js'
export { predictRto, type RestoreMeasurement } from './predict.js'
