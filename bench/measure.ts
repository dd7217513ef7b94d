/**
 * Running one measured command: wall time from the harness, peak RSS from GNU time, and the
 * small helpers the benchmark needs around it (directory sizes, file hashes, medians).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { lstat, open, readdir, readFile, rm } from 'node:fs/promises'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'

export const gnuTime = '/usr/bin/time'

export interface Measured {
  /** Wall-clock milliseconds from spawn to exit (process start-up included, as a user sees it). */
  ms: number
  /** Peak resident set size of the command, in bytes (GNU time's %M). */
  rssBytes: number
  /** CPU seconds the command used, user plus system (GNU time's %U + %S). */
  cpuSeconds: number
  stdout: string
  stderr: string
}

export interface CommandOptions {
  cwd: string
  env?: Record<string, string>
  /** Where GNU time writes its report; removed afterwards. */
  timeFile: string
}

/** Runs argv under `/usr/bin/time -f '%M %U %S'`; throws, with the command's stderr, when it fails. */
export async function measure(argv: string[], opts: CommandOptions): Promise<Measured> {
  const started = performance.now()
  const { code, stdout, stderr } = await run([gnuTime, '-f', '%M %U %S', '-o', opts.timeFile, ...argv], opts)
  const ms = performance.now() - started
  const report = (await readFile(opts.timeFile, 'utf8')).trim().split('\n')
  await rm(opts.timeFile, { force: true })
  if (code !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${code}:\n${stderr.trim().split('\n').slice(-15).join('\n')}`)
  }
  const [kib, user, sys] = (report.at(-1) ?? '').split(' ').map(Number)
  if (!Number.isFinite(kib)) throw new Error(`cannot read the peak RSS of ${argv[0]} from GNU time: ${report}`)
  return { ms, rssBytes: kib! * 1024, cpuSeconds: user! + sys!, stdout, stderr }
}

/** Runs a command to its end and collects its output; never throws for a non-zero exit. */
export function run(
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv
    const child = spawn(command!, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    )
  })
}

/** Runs a command that must succeed and returns its stdout. */
export async function check(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const result = await run(argv, opts)
  if (result.code !== 0) throw new Error(`${argv.join(' ')} exited with ${result.code}:\n${result.stderr.trim()}`)
  return result.stdout
}

/**
 * Flushes dirty pages to disk (it drops nothing from the page cache), so one tool's
 * pending write-back is not billed to the next tool measured.
 */
export async function syncDisks(): Promise<void> {
  await check(['sync'])
}

/** The sum of the sizes of every file under dir (apparent sizes, as `du -sb` counts them). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += await dirBytes(path)
    else total += (await lstat(path)).size
  }
  return total
}

/**
 * Writes and deletes `bytes` of file in `dir`, synced. In a virtual machine, memory the guest
 * has never touched costs several times more to fill the first time (about 3 s of system time
 * per GiB here, against about 1.4 s afterwards): without this, whichever tool first writes a
 * large file after the machine starts pays for it, and the ratios measure the order of the tools.
 */
export async function touchMemory(dir: string, bytes: number): Promise<void> {
  const path = join(dir, 'warm-up.tmp')
  const block = Buffer.alloc(4 * 1024 * 1024, 0x5a)
  const file = await open(path, 'w')
  try {
    for (let at = 0; at < bytes; at += block.length) await file.write(block, 0, block.length, at)
    await file.sync()
  } finally {
    await file.close()
    await rm(path, { force: true })
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The bytes restic's `backup --json` says it added (its summary line), before compression. */
export function resticDataAdded(m: Measured): number {
  for (const line of m.stdout.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue
    const doc = JSON.parse(line) as { message_type?: string; data_added?: number }
    if (doc.message_type === 'summary') return doc.data_added ?? Number.NaN
  }
  return Number.NaN
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The items rotated left by n: rep n measures the tools in a different order. */
export function rotate<T>(items: readonly T[], n: number): T[] {
  const k = n % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

/** The machine a benchmark ran on, for its report. */
export function machine(): string {
  const mem = `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return `${availableParallelism()} cores (nproc), ${mem}, ${cpu}, Linux ${release()}`
}

/** drkit's version and commit in the checkout at root, saying when src/ has uncommitted changes. */
export async function drkitVersion(root: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }
  const head = await run(['git', 'rev-parse', '--short', 'HEAD'], { cwd: root })
  const dirty = await run(['git', 'status', '--porcelain', '--', 'src'], { cwd: root })
  const commit = head.code === 0 ? ` at ${head.stdout.trim()}` : ''
  return `drkit ${pkg.version}${commit}${dirty.stdout.trim() ? ' (with uncommitted changes in src/)' : ''}`
}

/**
 * What every benchmark checks before it starts: its options (bad ones print the usage),
 * `--help`, a built drkit and GNU time. Returns the options and the command line as the
 * user ran it (for the results), or the exit status to return.
 */
export function startBench<Options extends { help: boolean }>(
  parse: () => Options,
  usage: string,
  opts: { root: string; script: string },
): { opts: Options; command: string } | number {
  let parsed: Options
  try {
    parsed = parse()
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}\n`)
    return 2
  }
  if (parsed.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  if (!existsSync(join(opts.root, 'dist', 'cli', 'main.js'))) {
    process.stderr.write('drkit is not built: run `npm run build`\n')
    return 2
  }
  if (!existsSync(gnuTime)) {
    process.stderr.write('missing GNU time (/usr/bin/time). On Debian or Ubuntu: sudo apt-get install time\n')
    return 2
  }
  const args = process.argv.slice(2)
  return { opts: parsed, command: `npm run ${opts.script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}` }
}
