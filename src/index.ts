/**
 * drkit as a library: everything the CLI does is a function here first. Open a context
 * from a plan, then call the ops; errors are the typed classes of errors.ts.
 */
export {
  type DrillReport,
  type DrillStepReport,
  formatDrillReport,
  type RunDrillOptions,
  runDrill,
} from './drills/index.js'
export * from './errors.js'
export { contextFromPlan, type OpsContext, openContext } from './ops/context.js'
export { type DrillListing, listDrillReports, listDrills } from './ops/drill.js'
export { type DataLoss, type RestoreTestResult, restoreTest } from './ops/restore-test.js'
