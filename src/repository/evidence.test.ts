import { describe, expect, it } from 'vitest'
import { openMemoryBackend } from './backends/memory.js'
import { Repository } from './index.js'

describe('evidence', () => {
  it('keeps records by kind, oldest first, filtered by resource and time', async () => {
    const repo = await Repository.init(await openMemoryBackend())
    await repo.writeEvidence({
      kind: 'drill',
      time: '2026-03-01T10:00:00.000Z',
      resource: 'b',
      ok: false,
      body: { n: 2 },
    })
    await repo.writeEvidence({
      kind: 'drill',
      time: '2026-02-01T10:00:00.000Z',
      resource: 'a',
      ok: true,
      body: { n: 1 },
    })
    await repo.writeEvidence({ kind: 'verify', time: '2026-02-15T10:00:00.000Z', ok: true, body: {} })

    const drills = await repo.listEvidence<{ n: number }>('drill')
    expect(drills.map((r) => r.body.n)).toEqual([1, 2])
    expect(drills[0]!.id).toMatch(/^[0-9a-f-]{36}$/)
    expect((await repo.listEvidence('drill', { resource: 'b' })).map((r) => r.ok)).toEqual([false])
    expect(await repo.listEvidence('drill', { since: new Date('2026-02-15T00:00:00Z') })).toHaveLength(1)
    expect(await repo.listEvidence('verify')).toHaveLength(1)
  })
})
