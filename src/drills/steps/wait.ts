import type { Step } from './step.js'

/** Waits, for example for an application to notice a change. */
export const waitStep: Step<'wait'> = {
  kind: 'wait',
  defaultTimeoutMs: (spec) => spec.ms + 5000,
  title: (spec) => `wait ${spec.ms} ms`,
  run: (spec, ctx) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(undefined), spec.ms)
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(ctx.signal.reason)
      })
    }),
}
