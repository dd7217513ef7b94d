/**
 * The timeline of a resource, what a point in time means on it, and what changed between
 * two points (diff) and how to put it back (undo). Pure: it decides from what ops/ reads
 * and never touches a source or the repository itself.
 */
export {
  decodeJsonValue,
  encodeJsonRow,
  encodeJsonValue,
  type JsonValue,
  type KeyColumns,
  type NetChange,
  netChanges,
  partialImage,
  sameImage,
} from './diff.js'
export { type Move, moveOf, originsOf, RowTracker } from './rebuild.js'
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
export { planUndo, type UndoConflict, type UndoPlan } from './undo.js'
