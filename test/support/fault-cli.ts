/**
 * The lock files a drkit process leaves in `repo/locks/`; startCli (a child process the
 * failure tests can kill, or run another beside) is re-exported from cli.ts.
 */

import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LockInfo } from '../../src/repository/lock.js'
import type { RunningCli } from './cli.js'

export { type RunningCli, startCli } from './cli.js'

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
