import type { DrillReport } from '../drills/report.js'
import type { EvidenceRecord, Repository } from '../repository/index.js'
import type { VerifyEvidence } from './verify.js'

/**
 * The fields of a drill report (drills/report.ts) that status, report and alerts read,
 * each optional but the drill's name, so that a report with fewer figures still reads.
 */
export type DrillEvidence = Pick<DrillReport, 'name'> &
  Partial<Pick<DrillReport, 'kind' | 'resource' | 'rto' | 'rpo' | 'reason'>>

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
