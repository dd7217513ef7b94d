import { spawn } from 'node:child_process'
import { DrkitError } from '../../errors.js'

/**
 * Runs a shell command in `cwd` and resolves with the tail of its output; a non-zero exit
 * (127 for a command that does not exist) is a DrkitError with that output. On abort the
 * whole process group is killed, so a command's children cannot keep the drill waiting.
 */
export function runShell(
  command: string,
  opts: { cwd: string; env: Record<string, string>; signal: AbortSignal },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    opts.signal.addEventListener('abort', kill, { once: true })
    child.on('error', (err) => {
      opts.signal.removeEventListener('abort', kill)
      reject(new DrkitError(`\`${command}\` could not start: ${err.message}`))
    })
    // 'exit', not 'close': a background grandchild holding the pipes must not keep the step waiting.
    child.on('exit', (code, signal) => {
      opts.signal.removeEventListener('abort', kill)
      const tail = lastLines(output)
      if (code === 0) return resolve(tail)
      const why = code === 127 ? 'command not found' : signal ? `killed by ${signal}` : `exit status ${code}`
      reject(new DrkitError(`\`${command}\` failed (${why})${tail ? `: ${tail}` : ''}`))
    })
  })
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ')
}
