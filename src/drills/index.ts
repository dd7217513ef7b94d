/**
 * Drills: recovery scenarios played on scratch copies (or a staging resource), measuring
 * the real RTO and RPO against the objectives and keeping the report as evidence. The
 * room calls ops (restore, bookmark, undo, capture shipping) and never the live resource's
 * data path: the live resource is only read, to fingerprint it.
 */
export { formatDrillReport } from './render.js'
export type { DrillEnvironment, DrillReport, DrillStepReport, RpoMeasure, RtoMeasure } from './report.js'
export { objectivesOf, type RunDrillOptions, runDrill } from './runner.js'
