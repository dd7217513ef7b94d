import { describe, expect, it } from 'vitest'
import { judge } from './judge.js'

const loss = (windowMs: number, changes: number) => ({ windowMs, changes, exact: true, tables: ['t'] })

describe('judge', () => {
  it('passes when every step succeeded and the objectives are met', () => {
    const v = judge({ rtoMs: 60_000, rpoMs: 5000 }, { rtoMs: 1200.4, loss: loss(0, 0), stepsOk: true })
    expect(v).toMatchObject({
      ok: true,
      issues: [],
      rto: { actualMs: 1200, met: true },
      rpo: { actualMs: 0, met: true },
    })
  })

  it('fails an RTO over its objective and says by how much', () => {
    const v = judge({ rtoMs: 1000 }, { rtoMs: 1500, stepsOk: true })
    expect(v.ok).toBe(false)
    expect(v.issues).toEqual(['RTO 1s500ms is over the objective of 1s'])
  })

  it('fails an RPO over its objective, naming the changes lost', () => {
    const v = judge({ rpoMs: 1000 }, { loss: loss(2500, 5), stepsOk: true })
    expect(v.issues).toEqual(['RPO 2s500ms is over the objective of 1s: 5 committed changes lost'])
    expect(v.rpo).toMatchObject({ changesLost: 5, met: false })
  })

  it('counts an objective that was not measured as missed', () => {
    const v = judge({ rtoMs: 1000, rpoMs: 1000 }, { stepsOk: false })
    expect(v.issues).toEqual([
      'RTO not measured: the recovery was not verified',
      'RPO not measured: the drill did not get as far as comparing the recovered data',
    ])
    expect(v.rto.met).toBe(false)
  })

  it('fails on a failed step even without objectives', () => {
    expect(judge({}, { rtoMs: 10, stepsOk: false }).ok).toBe(false)
    expect(judge({}, { rtoMs: 10, stepsOk: true }).ok).toBe(true)
  })
})
