import { spawn } from 'node:child_process'
import { DrkitError } from '../../errors.js'

/**
 * The PostgreSQL client programs drkit runs: pg_dump for the schema (DDL of every kind,
 * as PostgreSQL itself writes it) and psql to load it back.
 */

/** The major version of a PostgreSQL program on the PATH; DrkitError when it is missing. */
export async function toolMajor(tool: 'pg_dump' | 'psql'): Promise<number> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(tool, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let text = ''
    child.stdout.on('data', (d) => {
      text += d
    })
    child.on('error', (cause) =>
      reject(
        new DrkitError(
          `${tool} is not installed (or not on the PATH): drkit uses it for PostgreSQL schemas`,
          'Install the PostgreSQL client programs of the server’s version (e.g. apt install postgresql-client-15).',
          { cause },
        ),
      ),
    )
    child.on('close', () => resolve(text))
  })
  const m = /(\d+)(?:\.\d+)?/.exec(out)
  return m ? Number(m[1]) : 0
}

/** Refuses a pg_dump older than the server, which cannot dump it faithfully. */
export async function checkPgDump(serverMajor: number): Promise<number> {
  const major = await toolMajor('pg_dump')
  if (major < serverMajor) {
    throw new DrkitError(
      `pg_dump ${major} is older than the PostgreSQL ${serverMajor} server and cannot dump its schema faithfully`,
      `Install pg_dump ${serverMajor} or newer (the postgresql-client-${serverMajor} package) and put it first on the PATH.`,
    )
  }
  return major
}

/** Streams the output of a program; its failure (with stderr) ends the stream with an error. */
export async function* runOutput(cmd: string, args: string[], what: string): AsyncIterable<Uint8Array> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve(code))
  })
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer
    const code = await exit
    if (code !== 0) throw new DrkitError(`${what} failed (${cmd} exit ${code}): ${stderr.trim()}`)
  } finally {
    if (child.exitCode === null) child.kill()
  }
}

/** Runs psql with `input` on its standard input, stopping at the first error. */
export async function runPsql(url: string, input: AsyncIterable<Uint8Array>, what: string): Promise<void> {
  const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', url, '-f', '-'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  // psql stopping early closes its input; the exit status says why.
  child.stdin.on('error', () => {})
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve(code))
  })
  try {
    for await (const chunk of input) {
      if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r))
    }
  } catch (err) {
    child.kill()
    throw err
  } finally {
    child.stdin.end()
  }
  const code = await exit
  if (code !== 0) throw new DrkitError(`${what} failed: ${stderr.trim() || `psql exit ${code}`}`)
}
