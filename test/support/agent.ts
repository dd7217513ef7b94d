import { onTestFinished } from 'vitest'
import type { OpsContext } from '../../src/ops/context.js'
import { runAgent } from '../../src/scheduler/agent.js'

/**
 * Runs the agent in this process until the returned `stop` is called; resolves once it has
 * started. A failed test leaves no agent behind: it is stopped when the test finishes.
 */
export async function startTestAgent(ctx: OpsContext): Promise<() => Promise<void>> {
  const abort = new AbortController()
  let started!: () => void
  const ready = new Promise<void>((resolve) => (started = resolve))
  const running = runAgent(ctx, { signal: abort.signal, onEvent: (e) => e.event === 'agent.started' && started() })
  const stop = async () => {
    abort.abort()
    await running
  }
  onTestFinished(stop)
  await Promise.race([ready, running])
  return stop
}
