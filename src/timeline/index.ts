/**
 * The timeline of a resource, and what a point in time means on it. Pure: it decides from
 * summaries read by ops/ and never touches a source or the repository itself.
 */
export { type PointRequest, type RestorePoint, resolvePoint } from './resolve.js'
export {
  buildTimeline,
  type GenerationView,
  type Range,
  type SegmentPoint,
  type SnapshotPoint,
  type Timeline,
  type TimelineInput,
} from './timeline.js'
