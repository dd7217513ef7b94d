import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** An ongoing problem that notifiers were told about. */
export interface OpenProblem {
  event: string
  source: string
  message: string
  /** When it was first raised, and when it was last sent (ISO 8601). */
  since: string
  sentAt: string
}

/**
 * What was sent, so that an ongoing problem is not re-sent on every check. Kept in a local
 * cache file, not in the repository: it changes on every check while the repository is
 * append-only, and losing it costs at most one repeated alert. Several processes of one
 * plan (the agent, a cron-run verify) share the file; each write replaces it whole.
 */
export interface AlertState {
  get(key: string): Promise<OpenProblem | undefined>
  set(key: string, problem: OpenProblem | undefined): Promise<void>
}

export function memoryAlertState(): AlertState {
  const open = new Map<string, OpenProblem>()
  return {
    async get(key) {
      return open.get(key)
    },
    async set(key, problem) {
      if (problem) open.set(key, problem)
      else open.delete(key)
    },
  }
}

export function fileAlertState(file: string): AlertState {
  // Writes are chained so that two updates of one process never interleave.
  let chain: Promise<unknown> = Promise.resolve()
  const read = async (): Promise<Record<string, OpenProblem>> => {
    try {
      return (JSON.parse(await readFile(file, 'utf8')) as { open?: Record<string, OpenProblem> }).open ?? {}
    } catch {
      // Missing or damaged: a cache, so start afresh (at worst an ongoing problem is sent once more).
      return {}
    }
  }
  return {
    async get(key) {
      await chain
      return (await read())[key]
    },
    set(key, problem) {
      const step = chain.then(async () => {
        const open = await read()
        if (problem) open[key] = problem
        else delete open[key]
        await mkdir(dirname(file), { recursive: true })
        const temp = `${file}.${process.pid}.tmp`
        await writeFile(temp, `${JSON.stringify({ open }, null, 2)}\n`)
        await rename(temp, file)
      })
      chain = step.catch(() => undefined)
      return step
    },
  }
}
