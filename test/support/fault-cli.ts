/**
 * The built CLI as a child process the failure tests can hold on to (to kill it, or to run
 * another beside it), and the lock files it leaves in `repo/locks/`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LockInfo } from '../../src/repository/lock.js'
import { type CliRun, drkitBin } from './cli.js'

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

/** Lock files in repo/locks (not unfinished `.tmp-` puts), with their content when readable. */
export async function readLocks(repo: string): Promise<{ name: string; info: LockInfo | undefined }[]> {
  let names: string[]
  try {
    names = await readdir(join(repo, 'locks'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: { name: string; info: LockInfo | undefined }[] = []
  for (const name of names.filter((n) => !n.startsWith('.tmp-'))) {
    const text = await readFile(join(repo, 'locks', name), 'utf8').catch(() => undefined)
    let info: LockInfo | undefined
    try {
      info = text === undefined ? undefined : (JSON.parse(text) as LockInfo)
    } catch {
      info = undefined
    }
    out.push({ name, info })
  }
  return out
}

/**
 * Waits until a lock held by `pid` is in repo/locks and returns its file name; fails if the
 * process exits first. Polls: the test's timeout bounds it, nothing here measures time.
 */
export async function waitForLockOf(repo: string, running: RunningCli): Promise<string> {
  let exited = false
  void running.done.then(() => {
    exited = true
  })
  for (;;) {
    const held = (await readLocks(repo)).find((l) => l.info?.pid === running.pid)
    if (held) return held.name
    if (exited) {
      const run = await running.done
      throw new Error(`drkit (pid ${running.pid}) exited with ${run.code} before taking its lock:\n${run.stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A pid that belonged to a process which has exited (a child that ran and ended). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const pid = child.pid
  await new Promise((resolve) => child.on('close', resolve))
  if (pid === undefined) throw new Error('could not start a child process')
  return pid
}
