import { DrkitError } from '../../errors.js'
import { compareFingerprints } from '../../ops/restore-test.js'
import { undo } from '../../ops/undo.js'
import { after } from '../run.js'
import type { Scenario } from './scenario.js'
import {
  describeLoss,
  drillResource,
  hour,
  markerTable,
  minutes,
  recoverWithCapture,
  requireCapture,
  without,
  writeMarkers,
} from './shared.js'

const writes = 10

/**
 * A corruption window undone surgically, on a copy with capture of its own: good writes,
 * the drill's `fault` (captured and shipped), more good writes, then `undo` of the
 * window. Passes when the application's tables are back to their state before the fault
 * and every later good write survived (RPO: the later writes lost).
 */
export const corruptionUndoScenario: Scenario = {
  async check(drill, ctx) {
    await requireCapture(drill, ctx, drillResource(drill, ctx))
  },
  async run(run) {
    const copy = await recoverWithCapture(run)
    const before = await run.step(
      'write',
      `the application commits ${writes} writes, shipped`,
      async () => {
        await writeMarkers(copy, 'before-fault', writes)
        await copy.ship()
        const { time } = await copy.position()
        const fingerprint = await copy.fingerprint()
        await after(time)
        return { time, fingerprint }
      },
      { timeoutMs: minutes(5) },
    )
    const sql = run.drill.fault!.sql!
    const to = await run.step(
      'fault',
      sql,
      async () => {
        run.markFault()
        await copy.query(sql)
        await copy.ship()
        const { time } = await copy.position()
        await after(time)
        return time
      },
      { timeoutMs: minutes(5), detail: () => 'captured and shipped, as the agent would' },
    )
    await run.step(
      'write',
      `good writes after the corruption: ${writes}, shipped`,
      async () => {
        await writeMarkers(copy, 'after-fault', writes)
        await copy.ship()
      },
      { timeoutMs: minutes(5) },
    )
    await run.step(
      'undo',
      `undo ${new Date(before.time).toISOString()} – ${new Date(to).toISOString()}`,
      () => undo(copy.context, { resource: copy.resource.name, from: before.time, to }),
      {
        timeoutMs: hour,
        detail: (r) =>
          `${r.writes.length} rows put back (${r.restored.update} updated, ${r.restored.insert} re-inserted, ` +
          `${r.restored.delete} deleted), ${r.conflicts.length} conflicts`,
      },
    )
    await run.step(
      'verify',
      'the corrupted rows are back and every later good write survived',
      async () => {
        const now = await copy.fingerprint()
        const diff = compareFingerprints(without(before.fingerprint, markerTable), without(now, markerTable), 0)
        const survived = Number(await copy.query(`SELECT count(*) FROM ${markerTable} WHERE phase = 'after-fault'`))
        const lost = writes - survived
        run.loss = {
          changes: lost,
          windowMs: lost > 0 ? Date.now() - to : 0,
          exact: true,
          tables: lost > 0 ? [markerTable] : [],
        }
        if (diff.changes > 0) throw new DrkitError(`the undo left differences: ${describeLoss(diff)}`)
        if (lost > 0) throw new DrkitError(`${lost} of the ${writes} good writes after the corruption were lost`)
        run.markRecovered()
      },
      { timeoutMs: hour, detail: () => `tables as before the fault; ${writes} of ${writes} later writes kept` },
    )
  },
}
