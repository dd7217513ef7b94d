import { DrkitError } from '../../errors.js'
import { compareFingerprints } from '../../ops/restore-test.js'
import type { Fingerprint } from '../../sources/index.js'
import { after } from '../run.js'
import type { Scenario } from './scenario.js'
import {
  describeLoss,
  drillResource,
  hour,
  minutes,
  recoverWithCapture,
  requireCapture,
  writeMarkers,
} from './shared.js'

const writes = 10

/**
 * Point-in-time recovery on a copy with capture of its own: bookmark, the application
 * writes, the fault (the drill's `fault`, else every table emptied) is captured and
 * shipped like any change, then the copy's timeline is restored to the moment just
 * before the fault (RTO: fault to verified copy; RPO: what that moment lacks against
 * the state before the fault) and the bookmark is checked to restore exactly.
 */
export const pitrScenario: Scenario = {
  async check(drill, ctx) {
    await requireCapture(drill, ctx, drillResource(drill, ctx))
  },
  async run(run) {
    const copy = await recoverWithCapture(run)
    await run.step(
      'write',
      `the application commits ${writes} writes`,
      () => writeMarkers(copy, 'before-bookmark', writes),
      {
        timeoutMs: minutes(5),
      },
    )
    const atBookmark = await run.step(
      'bookmark',
      'bookmark drill-bookmark',
      async () => {
        await copy.bookmark('drill-bookmark')
        return copy.fingerprint()
      },
      { timeoutMs: minutes(5) },
    )
    const beforeFault = await run.step(
      'write',
      `the application commits ${writes} more writes, shipped`,
      async () => {
        await writeMarkers(copy, 'after-bookmark', writes)
        await copy.ship()
        const { time } = await copy.position()
        const fingerprint = await copy.fingerprint()
        // The fault comes strictly after the moment the recovery will ask for.
        await after(time)
        return { time, fingerprint }
      },
      { timeoutMs: minutes(5), detail: (b) => `moment before the fault: ${new Date(b.time).toISOString()}` },
    )
    const sql = run.drill.fault?.sql
    await run.step(
      'fault',
      sql ?? 'every table of the copy is emptied',
      async () => {
        run.markFault()
        if (sql !== undefined) await copy.query(sql)
        else await copy.target.wipe()
        await copy.ship()
      },
      { timeoutMs: minutes(5), detail: () => 'captured and shipped, as the agent would' },
    )
    const restored = await run.step(
      'restore',
      'restore the copy to the moment before the fault',
      (signal) => copy.restorePoint({ at: beforeFault.time }, signal),
      {
        timeoutMs: hour,
        detail: (r) => `state of ${r.time} into ${copy.target.target} (${r.changes} changes replayed)`,
      },
    )
    await run.step(
      'verify',
      'the recovered copy equals the state before the fault',
      async () => {
        const fingerprint = await copy.fingerprint()
        const loss = compareFingerprints(
          beforeFault.fingerprint,
          fingerprint,
          run.fault!.wall - Date.parse(restored.time),
        )
        run.loss = { ...loss, recoveredPoint: restored.time }
        if (loss.changes > 0) throw new DrkitError(`the recovered copy differs: ${describeLoss(loss)}`)
        run.markRecovered()
      },
      { timeoutMs: hour, detail: () => 'identical' },
    )
    await run.step(
      'assert',
      'the bookmark drill-bookmark restores exactly',
      async (signal) => {
        await copy.restorePoint({ bookmark: 'drill-bookmark' }, signal)
        assertSame(atBookmark, await copy.fingerprint(), 'drill-bookmark')
      },
      { timeoutMs: hour, detail: () => 'identical' },
    )
  },
}

function assertSame(expected: Fingerprint, actual: Fingerprint, what: string): void {
  const diff = compareFingerprints(expected, actual, 0)
  if (diff.changes > 0) throw new DrkitError(`the copy restored to ${what} differs: ${describeLoss(diff)}`)
}
