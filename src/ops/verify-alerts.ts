import type { AlertDispatcher } from '../alerts/index.js'
import type { VerifyResult } from './verify.js'

/**
 * Raises verify.failed for each resource a verification found wanting (damage, lost
 * moments, a missed RPO, missing scheduled snapshots) and for damage that touches no
 * snapshot in particular (source `repository`); resolves it where the run passed.
 */
export function alertVerifyResult(alerts: AlertDispatcher, result: VerifyResult): void {
  const unattributed = result.problems.filter((p) => p.snapshots.length === 0)
  if (unattributed.length > 0)
    alerts.raise({
      event: 'verify.failed',
      source: 'repository',
      message: unattributed.map((p) => `${p.object}: ${p.problem}`).join('; '),
    })
  else alerts.resolve('verify.failed', 'repository', 'verify passed')
  for (const check of result.resources) {
    if (!check.ok) alerts.raise({ event: 'verify.failed', source: check.resource, message: check.findings.join('; ') })
    else alerts.resolve('verify.failed', check.resource, 'verify passed')
  }
}
