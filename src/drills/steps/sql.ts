import { minutes, requireCopy, type Step } from './step.js'

/** Runs one SQL statement on the working copy. */
export const sqlStep: Step<'sql'> = {
  kind: 'sql',
  defaultTimeoutMs: () => minutes(5),
  title: (spec) => spec.sql,
  async run(spec, ctx) {
    const value = await requireCopy(ctx, 'sql').query(spec.sql)
    return value === undefined ? undefined : `returned ${String(value)}`
  },
}
