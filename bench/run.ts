/**
 * `npm run bench`: drkit side by side with restic and `sqlite3 .backup` on a generated
 * SQLite database (about 1 GiB by default): full snapshot, snapshot after updating 1% of
 * the rows, restore, and peak memory. Prints a markdown table of medians and side-by-side
 * ratios against the targets of issue 2; `--write` puts it into docs/BENCHMARKS.md.
 *
 * Usage: npm run bench -- [--size 1G] [--reps 3] [--seed 42] [--encrypt] [--write] [--keep] [--profile]
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { ensureDatabase, generatorVersion, type UpdateResult, updateRows } from './generate.js'
import {
  check,
  dirBytes,
  drkitVersion,
  type Measured,
  machine,
  measure,
  resticDataAdded,
  rotate,
  run,
  sha256File,
  syncDisks,
  touchMemory,
} from './measure.js'
import { type ProfileSummary, summarizeProfile } from './profile.js'
import { bytes, type RepResult, renderResults, type Sample, writeResults } from './report.js'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const workDir = join(root, 'bench', '.work')
const docPath = join(root, 'docs', 'BENCHMARKS.md')
const drkitBin = join(root, 'bin', 'drkit.js')
const updateFraction = 0.01

const usage = `Usage: npm run bench -- [options]

  --size SIZE    database size to generate and cache, e.g. 256M, 1G (default 1G)
  --reps N       repetitions; figures are medians (default 3)
  --seed N       seed of the generated content and of the update (default 42)
  --encrypt      drkit's repository is encrypted (drkit init --encrypt), as restic's always is
  --write        write the results into docs/BENCHMARKS.md
  --profile      also profile one drkit backup and restore (node --cpu-prof) and summarise them
  --keep         keep this run's repositories and files under bench/.work
  -h, --help     this help

The generated database is cached in bench/.work/cache and reused by later runs.
Needs restic, sqlite3 and GNU time (Debian: apt-get install restic sqlite3 time) and a built drkit (npm run build).`

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  if (!m) throw new Error(`--size ${text}: expected a size such as 256M or 1G`)
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase())
  return Math.round(Number(m[1]) * 1024 ** power)
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '1G' },
      reps: { type: 'string', default: '3' },
      seed: { type: 'string', default: '42' },
      encrypt: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const reps = Number(values.reps)
  const seed = Number(values.seed)
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`)
  if (!Number.isInteger(seed)) throw new Error(`--seed ${values.seed}: expected a whole number`)
  return { ...values, sizeBytes: parseSize(values.size), reps, seed }
}

type Options = ReturnType<typeof parseOptions>

/** The tools the benchmark needs, with their versions; a clear request for the missing ones. */
async function checkTools(): Promise<{ restic: string; sqlite3: string }> {
  const missing: string[] = []
  const version = async (argv: string[]) => {
    const r = await run(argv).catch(() => undefined)
    if (r?.code !== 0) missing.push(argv[0]!)
    return r?.stdout.trim() ?? ''
  }
  const restic = await version(['restic', 'version'])
  const sqlite3 = await version(['sqlite3', '-version'])
  if (!existsSync('/usr/bin/time')) missing.push('GNU time (/usr/bin/time)')
  if (missing.length > 0) {
    throw new Error(`missing: ${missing.join(', ')}. On Debian or Ubuntu: sudo apt-get install restic sqlite3 time`)
  }
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('drkit is not built: run `npm run build`')
  return { restic: restic.split(' ').slice(0, 2).join(' '), sqlite3: `sqlite3 ${sqlite3.split(' ')[0]}` }
}

/** One folder with a drkit plan and repository, and one restic repository, both fresh. */
class Setup {
  readonly db: string
  readonly drkitDir: string
  readonly drkitRepo: string
  readonly resticRepo: string
  readonly resticEnv: Record<string, string>
  private timeFiles = 0
  /** The password of an encrypted drkit repository, when the run asks for one. */
  private readonly drkitEnv: Record<string, string>

  constructor(
    readonly dir: string,
    private readonly encrypt = false,
  ) {
    this.drkitEnv = encrypt ? { DRKIT_PASSWORD: 'drkit-bench' } : {}
    this.db = join(dir, 'app.db')
    this.drkitDir = join(dir, 'drkit')
    this.drkitRepo = join(this.drkitDir, 'repo')
    this.resticRepo = join(dir, 'restic-repo')
    this.resticEnv = {
      RESTIC_PASSWORD: 'drkit-bench',
      RESTIC_REPOSITORY: this.resticRepo,
      RESTIC_CACHE_DIR: join(dir, 'restic-cache'),
    }
  }

  async create(pristine: string): Promise<void> {
    await mkdir(this.drkitDir, { recursive: true })
    await copyFile(pristine, this.db)
    await writeFile(
      join(this.drkitDir, 'drkit.yaml'),
      'repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ../app.db\n',
    )
    const init = this.encrypt ? ['init', '--encrypt', '--json'] : ['init', '--json']
    await check([process.execPath, drkitBin, ...init], { cwd: this.drkitDir, env: this.drkitEnv })
    await check(['restic', 'init', '--repository-version', '2'], { env: this.resticEnv })
  }

  timeFile(): string {
    return join(this.dir, `time-${this.timeFiles++}.txt`)
  }

  drkit(args: string[], profileDir?: string): Promise<Measured> {
    const node = profileDir ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [process.execPath]
    return measure([...node, drkitBin, ...args], { cwd: this.drkitDir, env: this.drkitEnv, timeFile: this.timeFile() })
  }

  restic(args: string[]): Promise<Measured> {
    return measure(['restic', ...args], { cwd: this.dir, env: this.resticEnv, timeFile: this.timeFile() })
  }

  sqlite3(args: string[]): Promise<Measured> {
    return measure(['sqlite3', ...args], { cwd: this.dir, timeFile: this.timeFile() })
  }
}

function sample(m: Measured, bytesLeft: number): Sample {
  return { ms: m.ms, rssBytes: m.rssBytes, bytes: bytesLeft }
}

/** drkit's own count of newly stored bytes, from `backup --json`. */
function drkitStored(m: Measured): number {
  const doc = JSON.parse(m.stdout) as { snapshots: { storedBytes: number }[] }
  return doc.snapshots[0]?.storedBytes ?? Number.NaN
}

type Step<T extends string> = Record<T, () => Promise<Sample>>

/** Runs each tool's step once, in the order given, with dirty pages flushed before each. */
async function sideBySide<T extends string>(label: string, order: T[], steps: Step<T>): Promise<Record<T, Sample>> {
  const out = {} as Record<T, Sample>
  for (const tool of order) {
    await syncDisks()
    out[tool] = await steps[tool]()
    log(
      `    ${label}: ${tool} ${(out[tool].ms / 1000).toFixed(2)} s, ${bytes(out[tool].bytes)}, RSS ${bytes(out[tool].rssBytes)}`,
    )
  }
  return out
}

async function runRep(
  rep: number,
  opts: Options,
  pristine: string,
  runDir: string,
): Promise<{ result: RepResult; update: UpdateResult }> {
  const s = new Setup(join(runDir, `rep-${rep + 1}`), opts.encrypt)
  await s.create(pristine)
  const tools = rotate(['drkit', 'restic', 'sqlite3'] as const, rep)
  const pair = rotate(['drkit', 'restic'] as const, rep)
  log(`  rep ${rep + 1}/${opts.reps} (order: ${tools.join(', ')})`)
  const stored = { full: 0, incremental: 0 }

  const backupDrkit = async (which: 'full' | 'incremental') => {
    const before = await dirBytes(s.drkitRepo)
    const m = await s.drkit(['backup', 'app-db', '--json'])
    stored[which] = drkitStored(m)
    return sample(m, (await dirBytes(s.drkitRepo)) - before)
  }
  let dataAdded = Number.NaN
  const backupRestic = async () => {
    const before = await dirBytes(s.resticRepo)
    const m = await s.restic(['backup', '--json', '--host', 'bench', s.db])
    dataAdded = resticDataAdded(m)
    return sample(m, (await dirBytes(s.resticRepo)) - before)
  }

  const full = await sideBySide('full snapshot', tools, {
    drkit: () => backupDrkit('full'),
    restic: backupRestic,
    sqlite3: async () => {
      const out = join(s.dir, 'sqlite3-backup.db')
      const m = await s.sqlite3([s.db, `.backup '${out}'`])
      const size = (await stat(out)).size
      await rm(out)
      return sample(m, size)
    },
  })

  const update = updateRows(s.db, updateFraction, opts.seed)
  const incremental = await sideBySide('after 1% updated', pair, {
    drkit: () => backupDrkit('incremental'),
    restic: backupRestic,
  })

  const expected = await sha256File(s.db)
  const identical = { drkit: false, restic: false }
  const drkitTarget = join(s.dir, 'restored-drkit.db')
  const resticTarget = join(s.dir, 'restored-restic')
  const restore = await sideBySide('restore', pair, {
    drkit: async () => {
      const m = await s.drkit(['restore', 'app-db', '--to', drkitTarget, '--json'])
      return sample(m, (await stat(drkitTarget)).size)
    },
    restic: async () => {
      const m = await s.restic(['restore', 'latest', '--target', resticTarget])
      return sample(m, (await stat(join(resticTarget, s.db))).size)
    },
  })
  identical.drkit = (await sha256File(drkitTarget)) === expected
  identical.restic = (await sha256File(join(resticTarget, s.db))) === expected
  if (!identical.drkit || !identical.restic)
    log(`    WARNING: restored files differ from the source: ${JSON.stringify(identical)}`)
  if (!opts.keep) await rm(s.dir, { recursive: true, force: true })
  const result = {
    full,
    incremental,
    restore,
    identical,
    drkitStored: stored,
    resticDataAdded: dataAdded,
    order: tools.join(', '),
  }
  return { result, update }
}

/** One more drkit backup and restore, each under `node --cpu-prof`, summarised by self time. */
async function profileDrkit(pristine: string, runDir: string): Promise<ProfileSummary[]> {
  const s = new Setup(join(runDir, 'profile'))
  await s.create(pristine)
  const profiles: ProfileSummary[] = []
  for (const [label, args] of [
    ['drkit backup (full snapshot)', ['backup', 'app-db']],
    ['drkit restore', ['restore', 'app-db', '--to', join(s.dir, 'restored.db')]],
  ] as const) {
    const dir = join(s.dir, `cpuprofile-${profiles.length}`)
    await syncDisks()
    const m = await s.drkit([...args], dir)
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`node --cpu-prof wrote no profile into ${dir}`)
    const summary = await summarizeProfile(join(dir, file), `${label}, ${(m.ms / 1000).toFixed(2)} s wall`, root)
    profiles.push(summary)
    log(`  profiled ${label}: ${(m.ms / 1000).toFixed(2)} s`)
  }
  return profiles
}

const docTemplate = `# Benchmarks

\`npm run bench\` runs drkit side by side with restic and \`sqlite3 .backup\`; see \`bench/run.ts\`.
`

async function main(): Promise<number> {
  let opts: Options
  try {
    opts = parseOptions()
  } catch (err) {
    log(`${(err as Error).message}\n\n${usage}`)
    return 2
  }
  if (opts.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  let versions: { restic: string; sqlite3: string }
  try {
    versions = await checkTools()
  } catch (err) {
    log((err as Error).message)
    return 2
  }
  const args = process.argv.slice(2)
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`

  log(`database: ${bytes(opts.sizeBytes)}, seed ${opts.seed}`)
  const db = await ensureDatabase(join(workDir, 'cache'), opts.sizeBytes, opts.seed, log)
  log(
    db.generated
      ? `  generated ${db.path} (${bytes(db.bytes)}) in ${db.seconds.toFixed(1)} s`
      : `  reusing ${db.path} (${bytes(db.bytes)})`,
  )
  const runDir = join(workDir, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  try {
    // Warm-up: read the database once and start every program once, so the first measured
    // command does not pay for a cold page cache, and fill memory the size of every file a
    // repetition writes (see touchMemory). Nothing is dropped from the cache later.
    log('warming up')
    await sha256File(db.path)
    await touchMemory(runDir, 4 * db.bytes)
    await check([process.execPath, drkitBin, '--help'])
    await check(['restic', 'version'])
    await check(['sqlite3', ':memory:', 'SELECT 1'])

    const reps: RepResult[] = []
    let update: UpdateResult | undefined
    for (let rep = 0; rep < opts.reps; rep++) {
      const done = await runRep(rep, opts, db.path, runDir)
      reps.push(done.result)
      update = done.update
    }
    const profiles = opts.profile ? await profileDrkit(db.path, runDir) : []
    const sqliteLib = new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get() as string
    const section = renderResults(
      {
        command,
        date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        machine: machine(),
        versions:
          `${await drkitVersion(root)} (SQLite ${sqliteLib} via better-sqlite3), Node ${process.version}, ` +
          `${versions.restic}, ${versions.sqlite3}`,
        database:
          `${bytes(db.bytes)} generated SQLite file (WAL mode, 4 KiB pages; generator v${generatorVersion}, ` +
          `seed ${opts.seed}): users ${db.rows.users.toLocaleString('en')}, orders ${db.rows.orders.toLocaleString('en')}, ` +
          `events ${db.rows.events.toLocaleString('en')} rows, 5 secondary indexes`,
        update:
          `UPDATE of one text column of ${updateFraction * 100}% of the rows of each table ` +
          `(${update?.rows.toLocaleString('en')} rows: users.bio, orders.items, events.payload), ` +
          'seeded random ids, one transaction, then `PRAGMA wal_checkpoint(TRUNCATE)`',
        reps: opts.reps,
      },
      reps,
      profiles,
    )
    process.stdout.write(`\n${section}\n`)
    if (opts.write) {
      await writeResults(docPath, section, docTemplate)
      log(`wrote the results into ${docPath}`)
    }
    return 0
  } finally {
    if (opts.keep) log(`kept ${runDir}`)
    else await rm(runDir, { recursive: true, force: true })
  }
}

process.exitCode = await main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  return 1
})
