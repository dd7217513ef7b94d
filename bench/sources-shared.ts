/**
 * What the benchmarks of `npm run bench:sources` (bench/redis.ts, files.ts, s3.ts) share:
 * where things are, the options each is given, and a drkit folder (plan plus repository)
 * whose commands run through GNU time.
 */

import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { check, type Measured, measure } from './measure.js'

export const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
export const workDir = join(root, 'bench', '.work')
export const drkitBin = join(root, 'bin', 'drkit.js')

export function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  if (!m) throw new Error(`${text}: expected a size such as 256M or 1G`)
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase())
  return Math.round(Number(m[1]) * 1024 ** power)
}

/** What every benchmark of bench:sources is given. */
export interface BenchOptions {
  reps: number
  seed: number
  keys: number
  sizeBytes: number
  s3SizeBytes: number
  keep: boolean
  profile: boolean
  /** The command line that produced the run, for the report. */
  command: string
  date: string
  machine: string
  versions: string
}

/** A folder with a drkit.yaml and its repository; every command runs under GNU time. */
export class DrkitFolder {
  private timeFiles = 0

  constructor(
    readonly dir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  /** Writes the plan and runs `drkit init`. */
  async create(plan: string): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await writeFile(join(this.dir, 'drkit.yaml'), plan)
    await check([process.execPath, drkitBin, 'init', '--json'], { cwd: this.dir, env: this.env })
  }

  timeFile(): string {
    return join(this.dir, `time-${this.timeFiles++}.txt`)
  }

  run(args: string[], profileDir?: string): Promise<Measured> {
    const node = profileDir ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [process.execPath]
    return measure([...node, drkitBin, ...args], { cwd: this.dir, env: this.env, timeFile: this.timeFile() })
  }
}

/** drkit's own count of newly stored bytes, from `backup --json`. */
export function storedBytes(m: Measured): number {
  const doc = JSON.parse(m.stdout) as { snapshots: { storedBytes: number }[] }
  return doc.snapshots[0]?.storedBytes ?? Number.NaN
}

/** The 1-minute load average at a run's start and now, on a machine others may be using too. */
export function loadLine(atStart: number): string {
  const cores = availableParallelism()
  return `1-minute load average ${atStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cores} cores`
}
