/**
 * `npm run bench:capture`: what continuous change capture costs and delivers for SQLite
 * (issue 3), measured with the real agent (`drkit agent`, spawned from the built CLI):
 *
 * 1. capture overhead: the application's write throughput with capture on (triggers
 *    installed and the agent running) against the same database without capture, side by
 *    side in the same run, for single-row UPDATEs (one per transaction) and for batched
 *    INSERTs (1000 rows per transaction); plus triggers alone (no agent) to tell the two
 *    costs apart;
 * 2. shipping lag: commit to stored in the repository, under a sustained 2,000 small
 *    transactions per second from a paced writer in a child process, `capture.interval: 1s`;
 * 3. replay: `restore --at` a moment 1,000,000 changes after the snapshot against the
 *    snapshot's own restore, changes applied per second, and where replay time goes.
 *
 * Prints markdown; `--write` puts it into docs/BENCHMARKS.md (section "Change capture (issue 3)").
 *
 * Usage: npm run bench:capture -- [--quick] [--reps N] [--seconds S] [--lag-seconds S] [--changes N]
 *                                 [--seed N] [--only PART] [--write] [--profile] [--keep]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { openFsBackend } from '../src/repository/backends/index.js'
import { Repository } from '../src/repository/index.js'
import { mainThreadProfile, splitReplayProfile } from './capture-profile.js'
import {
  type CaptureResults,
  captureMarkers,
  type LagResult,
  type Mode,
  modes,
  type OverheadRep,
  percentile,
  type ReplayRep,
  type ReplayResult,
  renderCaptureSection,
  writeCaptureSection,
} from './capture-report.js'
import {
  accountRows,
  changelogBacklog,
  createAppDatabase,
  insertBatch,
  measureThroughput,
  openApp,
  type Throughput,
  updateAccounts,
  type Workload,
} from './capture-workload.js'
import type { WriterRecord } from './capture-writer.js'
import { check, dirBytes, drkitVersion, gnuTime, machine, rotate, run, startBench, syncDisks } from './measure.js'
import { summarizeProfile } from './profile.js'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const workDir = join(root, 'bench', '.work')
const docPath = join(root, 'docs', 'BENCHMARKS.md')
const drkitBin = join(root, 'bin', 'drkit.js')
const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs')
const writerScript = join(root, 'bench', 'capture-writer.ts')
const distUrl = new URL('../dist/', import.meta.url).href

/**
 * Run with plain node against the built code (argv: repository folder, resource, dist/ URL):
 * reads every segment of the resource with Repository.readSegment, then once more in steps
 * (backend.get; zstd and JSON.parse; decodeChange) to tell the costs apart. Prints JSON.
 */
const decodeScript = `
const [repoDir, resource, dist] = process.argv.slice(1)
const { Repository } = await import(dist + 'repository/index.js')
const { openFsBackend } = await import(dist + 'repository/backends/index.js')
const { decodeJson } = await import(dist + 'repository/compress.js')
const { decodeChange } = await import(dist + 'repository/values.js')
const repository = await Repository.open(await openFsBackend(repoDir))
const refs = await repository.listSegments(resource)
let started = performance.now()
let changes = 0
for (const ref of refs) changes += (await repository.readSegment(ref)).changes.length
const ms = performance.now() - started
let getMs = 0, parseMs = 0, decodeChangeMs = 0
for (const ref of refs) {
  let t = performance.now()
  const bytes = await repository.backend.get(ref.key)
  getMs += performance.now() - t
  t = performance.now()
  const doc = decodeJson(bytes, ref.key)
  parseMs += performance.now() - t
  t = performance.now()
  doc.changes.map(decodeChange)
  decodeChangeMs += performance.now() - t
}
process.stdout.write(JSON.stringify({ ms, changes, getMs, parseMs, decodeChangeMs }))
`
const resource = 'app-db'
const intervalMs = 1000
const lagRate = 2000
const lagTickMs = 10
/** Changes per transaction, and per `drkit agent --once` pass, when the replay benchmark makes its changes. */
const replayBatch = 100_000

const usage = `Usage: npm run bench:capture -- [options]

  --quick          a short run: 1.5 s per throughput measurement, 2 repetitions, 15 s of paced writes,
                   1 restore repetition (still 1,000,000 changes unless --changes)
  --reps N         repetitions of the throughput and of the restore measurements (default 5 and 3; quick 2 and 1)
  --seconds S      seconds per throughput measurement (default 5; quick 1.5)
  --lag-seconds S  seconds of paced writing at 2,000 transactions per second (default 45; quick 15)
  --changes N      changes after the snapshot for the replay benchmark (default 1000000)
  --seed N         seed of the generated content (default 42)
  --write          write the results into docs/BENCHMARKS.md (section "Change capture (issue 3)")
  --only PART      run one part only (overhead, lag or replay) and print its raw results as JSON
  --profile        also profile the agent during the lag run (node --cpu-prof)
  --keep           keep this run's databases and repositories under bench/.work
  -h, --help       this help

Needs GNU time (/usr/bin/time) and a built drkit (npm run build; npm run bench:capture builds first).`

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      seconds: { type: 'string' },
      'lag-seconds': { type: 'string' },
      changes: { type: 'string', default: '1000000' },
      only: { type: 'string' },
      seed: { type: 'string', default: '42' },
      write: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const number = (name: string, text: string, min: number, integer: boolean) => {
    const n = Number(text)
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} ${text}: expected a ${integer ? 'whole ' : ''}number ≥ ${min}`)
    }
    return n
  }
  const quick = values.quick
  const parts = ['overhead', 'lag', 'replay'] as const
  const only = values.only === undefined ? undefined : parts.find((p) => p === values.only)
  if (values.only !== undefined && !only) throw new Error(`--only ${values.only}: expected one of ${parts.join(', ')}`)
  if (only && values.write) throw new Error('--only runs one part: it cannot --write the whole section')
  return {
    ...values,
    only,
    reps: number('reps', values.reps ?? (quick ? '2' : '5'), 1, true),
    restoreReps: values.reps !== undefined ? number('reps', values.reps, 1, true) : quick ? 1 : 3,
    seconds: number('seconds', values.seconds ?? (quick ? '1.5' : '5'), 0.2, false),
    lagSeconds: number('lag-seconds', values['lag-seconds'] ?? (quick ? '15' : '45'), 2, false),
    changes: number('changes', values.changes, 1, true),
    seed: number('seed', values.seed, 0, true),
  }
}

type Options = ReturnType<typeof parseOptions>

// ---------------------------------------------------------------------------------------
// Processes: the CLI, the agent and the paced writer. Every child is tracked, so that a
// failed run does not leave an agent behind.

const children = new Set<ChildProcess>()

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A folder with a drkit plan (`capture: { interval: 1s }`) naming its own copy of the database. */
class Setup {
  readonly db: string
  readonly planDir: string
  readonly repo: string

  constructor(readonly dir: string) {
    this.db = join(dir, 'app.db')
    this.planDir = join(dir, 'drkit')
    this.repo = join(this.planDir, 'repo')
  }

  async create(pristine: string): Promise<this> {
    await mkdir(this.planDir, { recursive: true })
    await copyFile(pristine, this.db)
    await writeFile(
      join(this.planDir, 'drkit.yaml'),
      `repository: ./repo\nresources:\n  ${resource}:\n    type: sqlite\n    path: ../app.db\n` +
        `    capture: { interval: ${intervalMs / 1000}s }\n`,
    )
    await this.drkit(['init', '--json'])
    return this
  }

  /** Runs a drkit command to its end; throws with its stderr when it fails. */
  drkit(args: string[]): Promise<string> {
    return check([process.execPath, drkitBin, ...args], { cwd: this.planDir })
  }

  /** Starts `drkit agent` (optionally under --cpu-prof) and waits until it captures. */
  async startAgent(profileDir?: string): Promise<Agent> {
    const logFile = join(this.dir, `agent-${Date.now()}.log`)
    const handle = await open(logFile, 'w')
    const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
    const child = spawn(process.execPath, [...prof, drkitBin, 'agent'], {
      cwd: this.planDir,
      stdio: ['ignore', 'ignore', handle.fd],
    })
    await handle.close()
    children.add(child)
    const agent = new Agent(child, logFile)
    const deadline = Date.now() + 120_000
    for (;;) {
      const text = await readFile(logFile, 'utf8')
      if (text.includes('agent.started')) return agent
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`drkit agent exited (${child.exitCode ?? child.signalCode}) before it started:\n${text}`)
      }
      if (Date.now() > deadline) throw new Error(`drkit agent did not start within 120 s:\n${text}`)
      await sleep(50)
    }
  }
}

class Agent {
  constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  /** CPU time the agent has used so far (user + sys, all threads), from /proc; NaN where there is none. */
  async cpuMs(): Promise<number> {
    try {
      const stat = await readFile(`/proc/${this.child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // Fields 14 and 15 of proc(5), utime and stime, in clock ticks (USER_HZ, 100 on Linux).
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
    } catch {
      return Number.NaN
    }
  }

  /** SIGTERM: the agent ships everything captured and exits 0. */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 300_000)
    const { code, signal } = await exited(this.child)
    clearTimeout(timer)
    children.delete(this.child)
    if (code !== 0) {
      const text = await readFile(this.logFile, 'utf8').catch(() => '')
      throw new Error(
        `drkit agent exited with ${code ?? signal} on SIGTERM:\n${text.trim().split('\n').slice(-15).join('\n')}`,
      )
    }
  }
}

// ---------------------------------------------------------------------------------------
// 1. Capture overhead

async function overheadRep(rep: number, opts: Options, pristine: string, runDir: string): Promise<OverheadRep> {
  const dir = join(runDir, `overhead-${rep + 1}`)
  await mkdir(dir, { recursive: true })
  const order = rotate(modes, rep)
  log(`  rep ${rep + 1}/${opts.reps} (order: ${order.join(', ')})`)
  const off = join(dir, 'off.db')
  await copyFile(pristine, off)
  const triggers = await new Setup(join(dir, 'triggers')).create(pristine)
  // Capture installed (with its base snapshot) through the library, as the agent does; no agent runs afterwards.
  await triggers.drkit(['agent', '--once'])
  const on = await new Setup(join(dir, 'on')).create(pristine)
  const paths: Record<Mode, string> = { off, triggers: triggers.db, on: on.db }

  const results = {} as Record<Workload, Record<Mode, Throughput>>
  const backlog = {} as Record<Workload, number>
  const drainMs = {} as Record<Workload, number | undefined>
  const agentCpu = { update: {}, insert: {} } as Record<Workload, Record<Mode, number>>
  for (const w of ['update', 'insert'] as const) results[w] = {} as Record<Mode, Throughput>
  // The agent runs for the whole repetition, as in production; while the off and triggers-only copies
  // are measured it has nothing to ship (each on measurement is followed by a wait until it shipped).
  const agent = await on.startAgent()
  try {
    for (const workload of ['update', 'insert'] as const) {
      for (const mode of order) {
        await syncDisks()
        const cpuBefore = await agent.cpuMs()
        const t = measureThroughput(paths[mode], workload, opts.seconds * 1000, opts.seed + rep)
        results[workload][mode] = t
        agentCpu[workload][mode] = ((await agent.cpuMs()) - cpuBefore) / t.ms
        let line = `    ${workload}, ${mode}: ${Math.round(t.rowsPerSecond).toLocaleString('en')} rows/s`
        if (mode === 'triggers')
          line += ` (${(changelogBacklog(paths[mode]) ?? 0).toLocaleString('en')} changes in the changelog)`
        if (mode === 'on') {
          // Let the agent catch up before the next measurement, and note how long that took.
          const ended = performance.now()
          backlog[workload] = changelogBacklog(paths[mode]) ?? 0
          drainMs[workload] = undefined
          while (performance.now() - ended < 300_000) {
            if ((changelogBacklog(paths[mode]) ?? 0) === 0) {
              drainMs[workload] = performance.now() - ended
              break
            }
            await sleep(100)
          }
          line += `; ${backlog[workload].toLocaleString('en')} changes waiting at the end, shipped within ${
            drainMs[workload] === undefined ? '(timed out)' : `${(drainMs[workload] / 1000).toFixed(1)} s`
          }`
        }
        log(line)
      }
    }
  } finally {
    await agent.stop()
  }
  if (!opts.keep) await rm(dir, { recursive: true, force: true })
  return { order, results, backlog, drainMs, agentCpu }
}

// ---------------------------------------------------------------------------------------
// 2. Shipping lag

interface SeenSegment {
  first: number
  last: number
  /** ctime of the segment file: when it was linked under its key (the fs backend links a synced temporary file). */
  storedAt: number
  /** When the 50 ms poll of the listing first showed it. */
  seenAt: number
}

async function runLag(opts: Options, pristine: string, runDir: string): Promise<LagResult> {
  const s = await new Setup(join(runDir, 'lag')).create(pristine)
  const profileDir = opts.profile ? join(s.dir, 'agent-profile') : undefined
  const agent = await s.startAgent(profileDir)
  let stopped = false
  try {
    const repository = await Repository.open(await openFsBackend(s.repo))
    const seen = new Map<string, SeenSegment>()
    let polling = true
    let maxListed = 0
    const poll = async () => {
      while (polling) {
        const tick = performance.now()
        for (const ref of await repository.listSegments(resource)) {
          if (seen.has(ref.key)) continue
          const seenAt = Date.now()
          const storedAt = (await stat(join(s.repo, ref.key))).ctimeMs
          seen.set(ref.key, { first: ref.first, last: ref.last, storedAt, seenAt })
          maxListed = Math.max(maxListed, ref.last)
        }
        await sleep(Math.max(0, 50 - (performance.now() - tick)))
      }
    }
    const poller = poll()

    const out = join(s.dir, 'writer.json')
    log(`  paced writer: ${lagRate} transactions/s for ${opts.lagSeconds} s`)
    const cpuBefore = await agent.cpuMs()
    const writeStarted = performance.now()
    const writer = spawn(
      process.execPath,
      [
        viteNode,
        writerScript,
        '--db',
        s.db,
        '--out',
        out,
        '--seconds',
        String(opts.lagSeconds),
        '--rate',
        String(lagRate),
        '--tick-ms',
        String(lagTickMs),
        '--seed',
        String(opts.seed),
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    children.add(writer)
    let writerErr = ''
    writer.stderr?.on('data', (b: Buffer) => {
      writerErr += b.toString('utf8')
    })
    const { code } = await exited(writer)
    const agentCpuShare = ((await agent.cpuMs()) - cpuBefore) / (performance.now() - writeStarted)
    children.delete(writer)
    if (code !== 0) throw new Error(`the paced writer exited with ${code}:\n${writerErr.trim()}`)
    const record = JSON.parse(await readFile(out, 'utf8')) as WriterRecord
    const lastSeq = Math.max(...record.seqs)
    const waitUntil = Date.now() + 60_000
    while (maxListed < lastSeq && Date.now() < waitUntil) await sleep(50)
    polling = false
    await poller
    await repository.close()
    await agent.stop()
    stopped = true

    // The earliest stored segment holding each seq (shipping is at least once: overlaps are possible).
    const storedAt = new Map<number, number>()
    const seenAt = new Map<number, number>()
    const segments = [...seen.values()]
    for (const seg of segments) {
      for (let q = seg.first; q <= seg.last; q++) {
        storedAt.set(q, Math.min(storedAt.get(q) ?? Number.POSITIVE_INFINITY, seg.storedAt))
        seenAt.set(q, Math.min(seenAt.get(q) ?? Number.POSITIVE_INFINITY, seg.seenAt))
      }
    }
    const lags: number[] = []
    const seenLags: number[] = []
    let missing = 0
    record.seqs.forEach((q, i) => {
      const at = storedAt.get(q)
      if (at === undefined) {
        missing++
        return
      }
      lags.push(Math.max(0, at - record.commits[i]!))
      seenLags.push(Math.max(0, seenAt.get(q)! - record.commits[i]!))
    })
    lags.sort((a, b) => a - b)
    seenLags.sort((a, b) => a - b)
    const sizes = segments.map((x) => x.last - x.first + 1).sort((a, b) => a - b)
    const stats = (xs: number[]) => ({
      p50: percentile(xs, 0.5),
      p90: percentile(xs, 0.9),
      p99: percentile(xs, 0.99),
      max: xs.at(-1) ?? Number.NaN,
    })
    const agentProfile = profileDir
      ? await summarizeProfile(
          await mainThreadProfile(profileDir),
          `drkit agent during the ${opts.lagSeconds} s of paced writes (main thread)`,
          root,
        )
      : undefined
    const result: LagResult = {
      seconds: opts.lagSeconds,
      writes: record.seqs.length,
      achievedRate: record.achievedRate,
      lateP99Ms: record.lateP99Ms,
      lateMaxMs: record.lateMaxMs,
      segments: segments.length,
      changesPerSegment: percentile(sizes, 0.5),
      missing,
      agentCpuShare,
      stored: stats(lags),
      seen: stats(seenLags),
      agentProfile,
    }
    log(
      `  lag (commit → stored): p50 ${result.stored.p50.toFixed(0)} ms, p99 ${result.stored.p99.toFixed(0)} ms, ` +
        `max ${result.stored.max.toFixed(0)} ms; ${result.writes.toLocaleString('en')} writes at ` +
        `${result.achievedRate.toFixed(0)}/s, ${result.segments} segments${missing > 0 ? `, ${missing} NOT FOUND` : ''}`,
    )
    return result
  } finally {
    if (!stopped) await agent.stop().catch(() => undefined)
  }
}

// ---------------------------------------------------------------------------------------
// 3. Replay

/**
 * Runs a command under GNU time: wall time (spawn to exit), peak RSS, and CPU time (user +
 * sys, every thread), which a busy machine inflates less than wall time.
 */
async function timed(argv: string[], cwd: string, timeFile: string) {
  const started = performance.now()
  const r = await run([gnuTime, '-f', '%M %U %S', '-o', timeFile, ...argv], { cwd })
  const ms = performance.now() - started
  const report = (await readFile(timeFile, 'utf8')).trim().split('\n').at(-1) ?? ''
  await rm(timeFile, { force: true })
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${r.code}:\n${r.stderr.trim().split('\n').slice(-15).join('\n')}`)
  }
  const [kib, user, sys] = report.split(' ').map(Number)
  if (![kib, user, sys].every((x) => Number.isFinite(x))) throw new Error(`cannot read GNU time's report: ${report}`)
  return { ms, rssBytes: kib! * 1024, cpuMs: (user! + sys!) * 1000, stdout: r.stdout }
}

/** A hash of every row of the application's tables, to check a restore against the live database. */
function contentHash(path: string): string {
  const db = new Database(path, { fileMustExist: true, readonly: true })
  try {
    const hash = createHash('sha256')
    for (const table of ['accounts', 'events']) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).raw(true).iterate()) {
        hash.update(JSON.stringify(row))
        hash.update('\n')
      }
    }
    return hash.digest('hex')
  } finally {
    db.close()
  }
}

async function runReplay(opts: Options, pristine: string, runDir: string): Promise<ReplayResult> {
  const s = await new Setup(join(runDir, 'replay')).create(pristine)
  // The first pass installs capture and takes the generation's base snapshot.
  await s.drkit(['agent', '--once'])
  const snapshots = JSON.parse(await s.drkit(['snapshots', resource, '--json'])) as { snapshots: { id: string }[] }
  const snapshotId = snapshots.snapshots.at(-1)!.id

  log(
    `  ${opts.changes.toLocaleString('en')} single-row updates, ${replayBatch.toLocaleString('en')} per transaction, each followed by drkit agent --once`,
  )
  const passes: { changes: number; ms: number }[] = []
  const db = openApp(s.db)
  try {
    for (let done = 0; done < opts.changes; ) {
      const count = Math.min(replayBatch, opts.changes - done)
      updateAccounts(db, count, done)
      done += count
      const started = performance.now()
      await s.drkit(['agent', '--once'])
      passes.push({ changes: count, ms: performance.now() - started })
    }
  } finally {
    db.close()
  }
  const timeline = JSON.parse(await s.drkit(['timeline', resource, '--json'])) as {
    window: { from: string; to: string }[]
    generations: { segments: number; changes: number | null }[]
  }
  const at = timeline.window.at(-1)!.to
  const expected = contentHash(s.db)
  const segmentDir = join(s.repo, 'segments')
  const segmentBytes = existsSync(segmentDir) ? await dirBytes(segmentDir) : 0
  const segments = timeline.generations.at(-1)?.segments ?? 0
  log(`  shipped ${segments} segments (${(segmentBytes / 2 ** 20).toFixed(1)} MiB); restore --at ${at}`)

  const restoreArgs = {
    snapshot: (target: string) => ['restore', resource, '--to', target, '--snapshot', snapshotId, '--json'],
    at: (target: string) => ['restore', resource, '--to', target, '--at', at, '--json'],
  }
  const reps: ReplayRep[] = []
  for (let rep = 0; rep < opts.restoreReps; rep++) {
    const order = rotate(['snapshot', 'at'] as const, rep)
    const out = {} as ReplayRep
    out.order = order.join(', ')
    for (const kind of order) {
      const target = join(s.dir, `restored-${kind}.db`)
      await syncDisks()
      const m = await timed(
        [process.execPath, drkitBin, ...restoreArgs[kind](target)],
        s.planDir,
        join(s.dir, 'time.txt'),
      )
      const doc = JSON.parse(m.stdout) as { changes: number; durationMs: number }
      out[kind] = { ms: m.ms, cpuMs: m.cpuMs, rssBytes: m.rssBytes, changes: doc.changes, durationMs: doc.durationMs }
      if (kind === 'at') out.identical = contentHash(target) === expected
      await rm(target, { force: true })
      log(
        `    rep ${rep + 1}, restore ${kind === 'at' ? `--at (${doc.changes.toLocaleString('en')} changes)` : '--snapshot'}: ${(m.ms / 1000).toFixed(2)} s`,
      )
    }
    if (!out.identical) log('    WARNING: the state restored --at differs from the live database')
    reps.push(out)
  }

  // Where the time goes: one more restore --at under --cpu-prof.
  const profileDir = join(s.dir, 'restore-profile')
  const target = join(s.dir, 'restored-profiled.db')
  await syncDisks()
  const started = performance.now()
  await check([process.execPath, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, drkitBin, ...restoreArgs.at(target)], {
    cwd: s.planDir,
  })
  const profiledMs = performance.now() - started
  await rm(target, { force: true })
  const profileFile = await mainThreadProfile(profileDir)
  const split = await splitReplayProfile(profileFile)
  const summary = await summarizeProfile(
    profileFile,
    `drkit restore --at, ${(profiledMs / 1000).toFixed(2)} s wall`,
    root,
  )

  // And segment reading and decoding alone, through the built repository code, as the CLI runs it.
  const decodeOnly = JSON.parse(
    await check([process.execPath, '--input-type=module', '-e', decodeScript, s.repo, resource, distUrl]),
  ) as ReplayResult['decodeOnly']
  log(
    `  segments read and decoded alone: ${decodeOnly.changes.toLocaleString('en')} changes in ` +
      `${(decodeOnly.ms / 1000).toFixed(2)} s (JSON.parse and zstd ${(decodeOnly.parseMs / 1000).toFixed(2)} s, ` +
      `decodeChange ${(decodeOnly.decodeChangeMs / 1000).toFixed(2)} s)`,
  )

  const result: ReplayResult = {
    changes: opts.changes,
    rows: accountRows,
    passes,
    segments,
    segmentBytes,
    at,
    reps,
    profile: { split, summary, wallMs: profiledMs },
    decodeOnly,
  }
  if (!opts.keep) await rm(s.dir, { recursive: true, force: true })
  return result
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = startBench(parseOptions, usage, { root, script: 'bench:capture' })
  if (typeof started === 'number') return started
  const { opts, command } = started
  const runDir = join(workDir, `capture-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  try {
    const pristine = join(runDir, 'pristine.db')
    createAppDatabase(pristine, opts.seed)
    // Warm-up: start the CLI once, so the first measured command does not pay for cold files.
    await check([process.execPath, drkitBin, '--help'])

    const overhead: OverheadRep[] = []
    if (!opts.only || opts.only === 'overhead') {
      log(`capture overhead: ${opts.seconds} s per measurement, ${opts.reps} repetitions`)
      for (let rep = 0; rep < opts.reps; rep++) overhead.push(await overheadRep(rep, opts, pristine, runDir))
    }
    let lag: LagResult | undefined
    if (!opts.only || opts.only === 'lag') {
      log('shipping lag')
      lag = await runLag(opts, pristine, runDir)
    }
    let replay: ReplayResult | undefined
    if (!opts.only || opts.only === 'replay') {
      log('replay')
      replay = await runReplay(opts, pristine, runDir)
    }
    if (!lag || !replay) {
      const raw = { overhead, lag: lag && { ...lag, agentProfile: undefined }, replay }
      process.stdout.write(`${JSON.stringify(raw, null, 2)}\n`)
      return 0
    }

    const sqliteLib = new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get() as string
    const results: CaptureResults = {
      info: {
        command,
        date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        machine: machine(),
        versions: `${await drkitVersion(root)} (SQLite ${sqliteLib} via better-sqlite3), Node ${process.version}`,
        seconds: opts.seconds,
        reps: opts.reps,
        restoreReps: opts.restoreReps,
        intervalMs,
        lagRate,
        lagTickMs,
        insertBatch,
        replayBatch,
      },
      overhead,
      lag,
      replay,
    }
    const section = renderCaptureSection(results)
    process.stdout.write(`\n${section}\n`)
    if (opts.write) {
      await writeCaptureSection(docPath, section)
      log(`wrote the results into ${docPath} (between ${captureMarkers.start} and ${captureMarkers.end})`)
    }
    return 0
  } finally {
    for (const child of children) child.kill('SIGKILL')
    if (opts.keep) log(`kept ${runDir}`)
    else await rm(runDir, { recursive: true, force: true })
  }
}

process.exitCode = await main().catch((err: unknown) => {
  log(`bench:capture failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  return 1
})
