import { describe, expect, it } from 'vitest'
import type { Drill } from '../plan/index.js'
import type { EvidenceRecord } from '../repository/index.js'
import { type DrillEvidence, describeDrill } from './drill.js'

const drill = (every?: Drill['every']): Drill => ({
  name: 'pitr',
  kind: 'pitr',
  resource: 'app-db',
  objectives: {},
  steps: [],
  every,
})

function lastRun(time: string, ok = true): EvidenceRecord<DrillEvidence> {
  return {
    kind: 'drill',
    id: 'r1',
    time,
    ok,
    body: { name: 'pitr', ok, finished: time, rto: { actualMs: 1200 }, rpo: { actualMs: 0, changesLost: 0 } },
  }
}

describe('describeDrill', () => {
  const now = new Date('2026-05-20T12:00:00Z')

  it('is due now when it never ran', () => {
    expect(describeDrill(drill({ kind: 'calendar', unit: 'quarter' }), undefined, now)).toEqual({
      name: 'pitr',
      kind: 'pitr',
      resource: 'app-db',
      every: 'quarterly',
      nextDue: now.toISOString(),
      due: true,
    })
  })

  it('is due again one period after its last run', () => {
    const listing = describeDrill(drill({ kind: 'calendar', unit: 'quarter' }), lastRun('2026-03-31T08:00:00Z'), now)
    expect(listing).toMatchObject({
      nextDue: '2026-06-30T08:00:00.000Z',
      due: false,
      last: { time: '2026-03-31T08:00:00Z', ok: true, rtoMs: 1200, rpoMs: 0 },
    })
    const overdue = describeDrill(drill({ kind: 'interval', ms: 43_200_000 }), lastRun('2026-05-19T12:00:00Z'), now)
    expect(overdue).toMatchObject({ every: '12h', nextDue: '2026-05-20T00:00:00.000Z', due: true })
  })

  it('is never due without `every`', () => {
    expect(describeDrill(drill(), lastRun('2026-01-01T00:00:00Z'), now)).toMatchObject({ due: false })
    expect(describeDrill(drill(), undefined, now).nextDue).toBeUndefined()
  })
})
