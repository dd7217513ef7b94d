/**
 * Retention: which snapshots and segments a resource's policy keeps, decided purely and
 * explained ("kept: daily 2026-02-14"). It reads and deletes nothing: `ops/forget.ts`
 * carries the decision out and `repository/prune.ts` removes the data no longer referenced.
 */
export {
  type ForgetInput,
  type ForgetPlan,
  type PlanBookmark,
  type PlanSegment,
  type PlanSnapshot,
  planForget,
} from './plan.js'
export { applyRetention, formatSpan, hasRules, type RetentionDecision, type RetentionInput } from './policy.js'
