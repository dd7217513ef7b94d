/**
 * `npm run bench:sources`: the benchmarks of issue 5, each side by side with the tool a user
 * would otherwise pick: Redis (`bench/redis.ts`, against `redis-cli --rdb`), files
 * (`bench/files.ts`, against restic) and the S3 backend (`bench/s3.ts`, against drkit's own
 * fs backend). Each prints a markdown section; `--write` puts it into docs/BENCHMARKS.md
 * between its own markers.
 *
 * Usage: npm run bench:sources -- [--only redis,files,s3] [--reps 3] [--write] [--keep] [--profile]
 *        [--keys 1000000] [--size 1G] [--s3-size 1G] [--seed 42]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { drkitVersion, machine, startBench } from './measure.js'
import { sectionMarkers, writeResults } from './report.js'
import { type BenchOptions, log, parseSize, root } from './sources-shared.js'

const docPath = join(root, 'docs', 'BENCHMARKS.md')

const usage = `Usage: npm run bench:sources -- [options]

  --only LIST    which benchmarks: redis, files, s3, comma-separated (default all three)
  --reps N       repetitions; figures are medians (default 3)
  --keys N       Redis: keys to load (default 1000000)
  --size SIZE    files: size of the generated tree, e.g. 256M, 1G (default 1G)
  --s3-size SIZE S3: size of the SQLite database backed up (default 1G)
  --seed N       seed of all generated content and changes (default 42)
  --write        write each section into docs/BENCHMARKS.md
  --profile      also profile one drkit backup and restore per benchmark (node --cpu-prof)
  --keep         keep the run's repositories and files under bench/.work
  -h, --help     this help

Needs GNU time, redis-cli and a Redis at 127.0.0.1:6379 (databases 3 and 2 are used and
flushed), restic, and a built drkit (npm run build).`

const benches = {
  redis: () => import('./redis.js').then((m) => m.benchRedis),
  files: () => import('./files.js').then((m) => m.benchFiles),
  s3: () => import('./s3.js').then((m) => m.benchS3),
} satisfies Record<string, () => Promise<(opts: BenchOptions) => Promise<string>>>

type BenchName = keyof typeof benches

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: 'redis,files,s3' },
      reps: { type: 'string', default: '3' },
      keys: { type: 'string', default: '1000000' },
      size: { type: 'string', default: '1G' },
      's3-size': { type: 'string', default: '1G' },
      seed: { type: 'string', default: '42' },
      write: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const whole = (name: string, text: string, min: number) => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${text}: expected a whole number ≥ ${min}`)
    return n
  }
  const only = values.only.split(',').map((s) => s.trim())
  for (const name of only) {
    if (!(name in benches)) throw new Error(`--only ${values.only}: "${name}" is not one of redis, files, s3`)
  }
  return {
    help: values.help,
    write: values.write,
    only: only as BenchName[],
    reps: whole('reps', values.reps, 1),
    keys: whole('keys', values.keys, 1),
    seed: whole('seed', values.seed, 0),
    sizeBytes: parseSize(values.size),
    s3SizeBytes: parseSize(values['s3-size']),
    keep: values.keep,
    profile: values.profile,
  }
}

async function main(): Promise<number> {
  const started = startBench(parseOptions, usage, { root, script: 'bench:sources' })
  if (typeof started === 'number') return started
  const { opts, command } = started
  const common: BenchOptions = {
    ...opts,
    command,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(),
    versions: `${await drkitVersion(root)}, Node ${process.version}`,
  }
  for (const name of opts.only) {
    log(`== ${name}`)
    const section = await (await benches[name]())(common)
    process.stdout.write(`\n${section}\n`)
    if (opts.write) {
      await writeResults(docPath, section, '# Benchmarks\n', sectionMarkers(`bench:${name}`))
      log(`wrote the ${name} results into ${docPath}`)
    }
  }
  return 0
}

process.exitCode = await main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  return 1
})
