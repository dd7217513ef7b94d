import { describe, expect, it } from 'vitest'
import type { Boundary } from '../model.js'
import { type ForgetInput, type PlanSegment, type PlanSnapshot, planForget } from './plan.js'

const hour = 3_600_000
const t0 = Date.parse('2026-02-01T00:00:00Z')
const now = t0 + 100 * hour

/** Generation g: a snapshot every 10 hours at seq 10·k, a segment per hour of 1 change each, head at the end. */
function generation(g: string, fromHour: number, toHour: number) {
  const snapshots: PlanSnapshot[] = []
  const segments: PlanSegment[] = []
  for (let h = fromHour; h < toHour; h++) {
    const seq = h - fromHour + 1
    if ((h - fromHour) % 10 === 0)
      snapshots.push({ id: `${g}-s${h}`, time: t0 + h * hour, generation: g, seq: seq - 1 })
    segments.push({ key: `${g}/seg${seq}`, generation: g, first: seq, last: seq, lastTime: t0 + h * hour + 1000 })
  }
  const head: Boundary = { seq: toHour - fromHour, time: t0 + toHour * hour }
  return { snapshots, segments, head }
}

function input(over: Partial<ForgetInput>, gens = [generation('g1', 0, 100)]): ForgetInput {
  return {
    snapshots: gens.flatMap((g) => g.snapshots),
    segments: gens.flatMap((g) => g.segments),
    heads: new Map(gens.map((g, i) => [`g${i + 1}`, g.head])),
    bookmarks: [],
    policy: undefined,
    now,
    ...over,
  }
}

describe('planForget', () => {
  it('changes nothing without a policy', () => {
    const plan = planForget(input({}))
    expect(plan.snapshots.every((s) => s.keep)).toBe(true)
    expect(plan.segments).toEqual([])
    expect(plan.windowStart).toBeUndefined()
  })

  it('keeps the newest snapshot at or before the PITR window start and drops the segments before it', () => {
    // Window: the last 25 hours, from hour 75; the base is the snapshot of hour 70 (seq 70).
    const plan = planForget(input({ policy: { last: 1, pitrMs: 25 * hour } }))
    const base = plan.snapshots.find((s) => s.id === 'g1-s70')!
    expect(base.keep).toBe(true)
    expect(base.reasons).toEqual(['kept: pitr base (window 25h)'])
    expect(plan.snapshots.filter((s) => s.keep).map((s) => s.id)).toEqual(['g1-s90', 'g1-s70'])
    expect(plan.segments).toHaveLength(70)
    expect(plan.segments).toContain('g1/seg70')
    expect(plan.segments).not.toContain('g1/seg71')
    expect(plan.windowStart).toBe(now - 25 * hour)
  })

  it('with pitr only, keeps every snapshot but trims the changes to the window', () => {
    const plan = planForget(input({ policy: { pitrMs: 25 * hour } }))
    expect(plan.snapshots.every((s) => s.keep)).toBe(true)
    expect(plan.segments).toHaveLength(70)
  })

  it('without pitr, keeps the changes after the oldest kept snapshot of each generation', () => {
    const plan = planForget(input({ policy: { last: 3 } }))
    expect(plan.snapshots.filter((s) => s.keep).map((s) => s.id)).toEqual(['g1-s90', 'g1-s80', 'g1-s70'])
    expect(plan.segments).toHaveLength(70)
  })

  it('a generation that ended before the window, or has no kept snapshot, needs no segments', () => {
    const g1 = generation('g1', 0, 40)
    const g2 = generation('g2', 40, 100)
    const plan = planForget(input({ policy: { last: 2, pitrMs: 30 * hour } }, [g1, g2]))
    expect(plan.segments.filter((k) => k.startsWith('g1/'))).toHaveLength(40)
    // g2: window from hour 70, base the snapshot of hour 70 (seq 30).
    expect(plan.snapshots.find((s) => s.id === 'g2-s70')!.keep).toBe(true)
    expect(plan.segments.filter((k) => k.startsWith('g2/'))).toHaveLength(30)
  })

  it('a generation that began inside the window keeps all its segments after its oldest kept snapshot', () => {
    const g1 = generation('g1', 0, 60)
    const g2 = generation('g2', 90, 100)
    const plan = planForget(input({ policy: { last: 1, pitrMs: 20 * hour } }, [g1, g2]))
    const g2Base = plan.snapshots.find((s) => s.id === 'g2-s90')!
    expect(g2Base.reasons).toEqual(['kept: last 1', 'kept: pitr base (window 20h)'])
    expect(plan.snapshots.filter((s) => s.keep).map((s) => s.id)).toEqual(['g2-s90'])
    expect(plan.segments.filter((k) => k.startsWith('g2/'))).toEqual([])
    expect(plan.segments.filter((k) => k.startsWith('g1/'))).toHaveLength(60)
  })

  it('keeps a generation’s newest segment when it reaches past the head (a capture restarts from it)', () => {
    const g1 = generation('g1', 0, 40)
    g1.head = { seq: 38, time: t0 + 38 * hour }
    const plan = planForget(input({ policy: { last: 1 } }, [g1, generation('g2', 40, 100)]))
    expect(plan.segments.filter((k) => k.startsWith('g1/'))).toHaveLength(39)
    expect(plan.segments).not.toContain('g1/seg40')
  })

  it('keeps a generation’s first snapshot when the generation began inside the window', () => {
    const g1 = generation('g1', 0, 50)
    const g2 = generation('g2', 60, 100)
    const plan = planForget(input({ policy: { last: 1, pitrMs: 60 * hour } }, [g1, g2]))
    expect(plan.snapshots.find((s) => s.id === 'g2-s60')!.reasons).toEqual(['kept: pitr base (window 60h)'])
    expect(plan.snapshots.find((s) => s.id === 'g1-s40')!.reasons).toEqual(['kept: pitr base (window 60h)'])
    expect(plan.segments.filter((k) => k.startsWith('g2/'))).toEqual([])
    expect(plan.segments.filter((k) => k.startsWith('g1/'))).toHaveLength(40)
  })

  it('reports the bookmarks it makes unrestorable, and only those', () => {
    const g1 = generation('g1', 0, 100)
    const bookmarks = [
      { name: 'inside', generation: 'g1', seq: 80, time: t0 + 80 * hour },
      { name: 'before-window', generation: 'g1', seq: 35, time: t0 + 35 * hour },
      { name: 'on-the-pitr-base', generation: 'g1', seq: 70, time: t0 + 70 * hour },
      { name: 'never-restorable', generation: 'gone', seq: 5, time: t0 },
    ]
    const plan = planForget(input({ bookmarks, policy: { yearly: 1, pitrMs: 25 * hour } }, [g1]))
    expect(plan.lostBookmarks).toEqual(['before-window'])
  })

  it('a gap in the segments before a bookmark is not this plan’s doing', () => {
    const g1 = generation('g1', 0, 100)
    g1.segments.splice(3, 1)
    const bookmarks = [{ name: 'after-gap', generation: 'g1', seq: 6, time: t0 + 6 * hour }]
    const plan = planForget(input({ bookmarks, policy: { last: 1, pitrMs: 25 * hour } }, [g1]))
    expect(plan.lostBookmarks).toEqual([])
  })

  it('plain snapshots (no capture) follow the policy alone', () => {
    const snapshots = [0, 1, 2].map((d) => ({ id: `p${d}`, time: t0 + d * 24 * hour }))
    const plan = planForget({ snapshots, segments: [], heads: new Map(), bookmarks: [], policy: { last: 1 }, now })
    expect(plan.snapshots.map((s) => s.keep)).toEqual([true, false, false])
  })
})
