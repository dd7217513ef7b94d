import { minutes, requireCopy, type Step } from './step.js'

/** Names the working copy's current position (in its own scratch timeline) and records its fingerprint. */
export const bookmarkStep: Step<'bookmark'> = {
  kind: 'bookmark',
  defaultTimeoutMs: () => minutes(5),
  title: (spec) => `bookmark ${spec.name}`,
  async run(spec, ctx) {
    const copy = requireCopy(ctx, 'bookmark')
    await copy.bookmark(spec.name)
    ctx.recorded.set(spec.name, await copy.fingerprint())
    return 'position shipped and named; fingerprint recorded'
  },
}
