import { spawn } from 'node:child_process'
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

/** Runs `drkit ...args` in cwd and collects its output. */
export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [drkitBin, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }),
    )
  })
}

/** Writes a plan with one sqlite resource `app-db` at ./app.db and the repository at ./repo. */
export function sqlitePlan(extra = ''): string {
  return `repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ./app.db\n${extra}`
}
