import type { EvidenceRecord, Repository } from '../repository/index.js'
import type { VerifyEvidence } from './verify.js'

/**
 * The fields of a drill report that status, report and alerts read. The drills room owns
 * the full report type; this names only what is read here, each optional but `name`, so
 * that a report with fewer figures still reads.
 */
export interface DrillEvidence {
  name: string
  kind?: string
  resource?: string
  /** RTO: the objective and the time from fault to verified recovery (ms). */
  rto?: { targetMs?: number; actualMs?: number }
  /** RPO: the objective, the window of committed data lost (ms) and how many changes. */
  rpo?: { targetMs?: number; actualMs?: number; changesLost?: number }
  /** Why it failed, when it did. */
  reason?: string
}

export interface Evidence {
  verify: EvidenceRecord<VerifyEvidence>[]
  drill: EvidenceRecord<DrillEvidence>[]
}

/** Verification results and drill reports, oldest first, optionally since a time. */
export async function readEvidence(repository: Repository, since?: Date): Promise<Evidence> {
  const [verify, drill] = await Promise.all([
    repository.listEvidence<VerifyEvidence>('verify', { since }),
    repository.listEvidence<DrillEvidence>('drill', { since }),
  ])
  return { verify, drill: drill.filter((r) => typeof r.body?.name === 'string') }
}

/** The newest record matching `pred`. */
export function latest<T extends { time: string }>(records: T[], pred: (r: T) => boolean): T | undefined {
  for (let i = records.length - 1; i >= 0; i--) if (pred(records[i]!)) return records[i]
  return undefined
}
