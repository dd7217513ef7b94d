import type { DataLoss } from '../ops/restore-test.js'
import { formatDuration, type Objectives } from '../plan/index.js'
import type { RpoMeasure, RtoMeasure } from './report.js'

export interface Measured {
  /** Wall-clock moments (ms) and the RTO measured between them on the monotonic clock. */
  faultAt?: number
  recoveredAt?: number
  rtoMs?: number
  loss?: DataLoss & { recoveredPoint?: string }
  /** Every step succeeded. */
  stepsOk: boolean
}

export interface Verdict {
  ok: boolean
  rto: RtoMeasure
  rpo: RpoMeasure
  /** One line per objective missed or left unmeasured. */
  issues: string[]
}

/**
 * Pure: the measured figures against the objectives. An objective that is set and was
 * not measured (the drill failed before recovery was verified) is not met.
 */
export function judge(objectives: Objectives, m: Measured): Verdict {
  const issues: string[] = []
  const rto: RtoMeasure = {
    targetMs: objectives.rtoMs,
    actualMs: m.rtoMs === undefined ? undefined : Math.round(m.rtoMs),
    faultAt: m.faultAt === undefined ? undefined : new Date(m.faultAt).toISOString(),
    recoveredAt: m.recoveredAt === undefined ? undefined : new Date(m.recoveredAt).toISOString(),
  }
  if (rto.targetMs !== undefined) {
    rto.met = rto.actualMs !== undefined && rto.actualMs <= rto.targetMs
    if (rto.actualMs === undefined) issues.push('RTO not measured: the recovery was not verified')
    else if (!rto.met)
      issues.push(`RTO ${formatDuration(rto.actualMs)} is over the objective of ${formatDuration(rto.targetMs)}`)
  }
  const loss = m.loss
  const rpo: RpoMeasure = {
    targetMs: objectives.rpoMs,
    actualMs: loss?.windowMs,
    changesLost: loss?.changes,
    exact: loss?.exact,
    recoveredPoint: loss?.recoveredPoint,
  }
  if (rpo.targetMs !== undefined) {
    rpo.met = loss !== undefined && loss.windowMs <= rpo.targetMs
    if (!loss) issues.push('RPO not measured: the drill did not get as far as comparing the recovered data')
    else if (!rpo.met)
      issues.push(
        `RPO ${formatDuration(loss.windowMs)} is over the objective of ${formatDuration(rpo.targetMs)}: ` +
          `${loss.exact ? '' : 'at least '}${loss.changes} committed changes lost`,
      )
  }
  return { ok: m.stepsOk && issues.length === 0, rto, rpo, issues }
}
