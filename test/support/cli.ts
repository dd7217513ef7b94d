import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built binary, as users run it (`npm test` builds before the tests). */
export const drkitBin = fileURLToPath(new URL('../../bin/drkit.js', import.meta.url))

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

export interface RunningCli {
  child: ChildProcess
  pid: number
  /** Resolves when the process has exited and its output is collected. */
  done: Promise<CliRun>
  /** stderr so far. */
  stderr(): string
}

/** Starts `drkit ...args` in cwd; the pid is drkit's own (node runs the binary directly, no shell). */
export function startCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): RunningCli {
  const child = spawn(process.execPath, [drkitBin, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => {
    stdout += d
  })
  child.stderr!.on('data', (d) => {
    stderr += d
  })
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }),
    )
  })
  if (child.pid === undefined) throw new Error(`could not start ${drkitBin}`)
  return { child, pid: child.pid, done, stderr: () => stderr }
}

/** Runs `drkit ...args` in cwd and collects its output. */
export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliRun> {
  return startCli(args, opts).done
}

/** Writes a plan with one sqlite resource `app-db` at ./app.db and the repository at ./repo. */
export function sqlitePlan(extra = ''): string {
  return `repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ./app.db\n${extra}`
}
