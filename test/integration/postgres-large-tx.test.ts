/**
 * A transaction larger than one read: capture hands it over a bounded number of changes at
 * a time (it once collected a whole transaction in memory and overflowed the call stack at
 * a few hundred thousand changes), reads resume inside it, a new process takes it up from
 * where the repository is, and the restore replays it exactly.
 */
import { describe, expect, test } from 'vitest'
import type { Change } from '../../src/model.js'
import { openPostgresCapture } from '../../src/sources/postgres/capture.js'
import { runCli } from '../support/cli.js'
import { fingerprintOf, pgUrl, testDatabase, throwawayName, writePgPlan } from '../support/postgres.js'
import { tempDir } from '../support/tmp.js'

const seqs = (changes: Change[]) => changes.map((c) => c.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('postgres capture of a transaction larger than a read', () => {
  test('reads stop inside it with no boundary, resume, and prove its commit only at its end', async () => {
    const src = await testDatabase()
    await src.client.query('CREATE TABLE t (id int PRIMARY KEY, v text)')
    const capture = openPostgresCapture(src.url, 'main')
    try {
      const { generation } = await capture.install()
      await src.client.query("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2500) g")
      await src.client.query("INSERT INTO t VALUES (9001, 'small')")

      const first = await capture.read(generation, 0, 1000)
      expect(seqs(first.changes)).toEqual(range(1, 1000))
      expect(first.boundaries).toEqual([])
      expect(first.boundary.seq).toBe(0)
      // Nothing of the transaction is committed to the repository yet: the slot must not move.
      await capture.acknowledge(1000)
      const second = await capture.read(generation, 1000, 1000)
      expect(seqs(second.changes)).toEqual(range(1001, 2000))
      expect(second.boundaries).toEqual([])

      // Another process takes over from what the repository holds: it decodes again and skips what was shipped.
      const other = openPostgresCapture(src.url, 'main')
      try {
        const taken = await other.read(generation, 2000, 1000)
        expect(seqs(taken.changes)).toEqual(range(2001, 2501))
        expect(taken.boundaries!.map((b) => b.seq)).toEqual([2500, 2501])
        expect(taken.boundary.seq).toBe(2501)
      } finally {
        await other.close()
      }

      const third = await capture.read(generation, 2000, 1000)
      expect(seqs(third.changes)).toEqual(range(2001, 2501))
      expect(third.changes.at(-1)).toMatchObject({ op: 'insert', after: { id: '9001', v: 'small' } })
      expect(third.boundary.seq).toBe(2501)
      await capture.acknowledge(2501)
      const idle = await capture.read(generation, 2501, 1000)
      expect(idle.changes).toEqual([])
      expect(idle.state.seq).toBe(2501)
    } finally {
      await capture.close()
    }
  })

  test('the agent ships a 25,000-row update in segments and the restore matches', { timeout: 120_000 }, async () => {
    const src = await testDatabase()
    await src.client.query(
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 25000) g",
    )
    const dir = await tempDir()
    await writePgPlan(dir, src.url, '    capture: { interval: 100ms }\n')
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['agent', '--once'], { cwd: dir })).code).toBe(0)
    await src.client.query('UPDATE t SET v = v || id WHERE id % 7 <> 0; DELETE FROM t WHERE id % 7 = 0')
    const shipped = await runCli(['agent', '--once'], { cwd: dir })
    expect(shipped.code, shipped.stderr).toBe(0)

    const timeline = (await runCli(['timeline', 'main', '--json'], { cwd: dir })).json<{
      generations: { segments: number; changes: { first: number; last: number } | null }[]
    }>()
    expect(timeline.generations).toHaveLength(1)
    const changes = 25000
    expect(timeline.generations[0]!.changes).toEqual({ first: 1, last: changes })
    // One read takes about 10,000 changes, so no segment holds the whole transaction.
    expect(timeline.generations[0]!.segments).toBeGreaterThanOrEqual(3)

    const target = throwawayName()
    const restored = await runCli(['restore', 'main', '--to', pgUrl(target)], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    expect(await fingerprintOf(target)).toEqual(await fingerprintOf(src.name))
  })
})
