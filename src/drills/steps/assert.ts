import { DrkitError, PlanError } from '../../errors.js'
import { compareFingerprints } from '../../ops/restore-test.js'
import { minutes, requireCopy, type Step } from './step.js'

/** Checks the working copy: a query's value, or its fingerprint against one recorded earlier in the drill. */
export const assertStep: Step<'assert'> = {
  kind: 'assert',
  defaultTimeoutMs: () => minutes(5),
  title: (spec) =>
    spec.sql !== undefined
      ? `${spec.sql} = ${JSON.stringify(spec.equals)}`
      : `the copy equals its state at ${spec.fingerprint}`,
  async run(spec, ctx) {
    const copy = requireCopy(ctx, 'assert')
    if (spec.sql !== undefined) {
      const value = await copy.query(spec.sql)
      const actual = value === undefined ? 'no row' : value === null ? 'null' : String(value)
      const expected = spec.equals === null ? 'null' : String(spec.equals)
      if (actual !== expected)
        throw new DrkitError(`assertion failed: ${spec.sql} returned ${actual}, expected ${expected}`)
      return `returned ${actual}`
    }
    const name = spec.fingerprint!
    const recorded = ctx.recorded.get(name)
    if (!recorded) {
      const known = [...ctx.recorded.keys()]
      throw new PlanError(
        `drill "${ctx.run.drill.name}": no state named ${name} was recorded before this step`,
        known.length > 0 ? `Recorded: ${known.join(', ')}.` : 'Record one with a fault or bookmark step first.',
      )
    }
    const diff = compareFingerprints(recorded, await copy.fingerprint(), 0)
    if (diff.changes > 0) {
      throw new DrkitError(
        `assertion failed: the copy differs from its state at ${name} in ${diff.tables.join(', ')} ` +
          `(at least ${diff.changes} rows)`,
      )
    }
    return `identical to ${name}`
  },
}
