/**
 * `npm run bench:encryption`: what encryption at rest costs. The same generated SQLite
 * database (bench/generate.ts, cached with `npm run bench`'s) is backed up into a plain
 * and an encrypted drkit repository side by side in one run, in alternating order: full
 * snapshot, snapshot after updating 1% of the rows, restore. Prints medians and the
 * encrypted/plain ratios; `--write` puts them into docs/BENCHMARKS.md.
 *
 * Usage: npm run bench:encryption -- [--size 1G] [--reps 3] [--seed 42] [--write]
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ensureDatabase, updateRows } from './generate.js'
import { check, dirBytes, drkitVersion, machine, measure, median, rotate, sha256File, syncDisks } from './measure.js'
import { bytes } from './report.js'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const workDir = join(root, 'bench', '.work')
const docPath = join(root, 'docs', 'BENCHMARKS.md')
const drkitBin = join(root, 'bin', 'drkit.js')
const markers = { start: '<!-- bench:encryption:start -->', end: '<!-- bench:encryption:end -->' }
const password = { DRKIT_PASSWORD: 'drkit-bench' }
const kinds = ['plain', 'encrypted'] as const
type Kind = (typeof kinds)[number]
const steps = ['full snapshot', 'after 1% updated', 'restore'] as const
type StepName = (typeof steps)[number]
type Sample = { ms: number; rssBytes: number }

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '1G' },
      reps: { type: 'string', default: '3' },
      seed: { type: 'string', default: '42' },
      write: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const m = /^(\d+)([MG])$/i.exec(values.size)
  if (!m) throw new Error(`--size ${values.size}: expected for example 256M or 1G`)
  const sizeBytes = Number(m[1]) * 1024 ** (m[2]!.toUpperCase() === 'G' ? 3 : 2)
  const reps = Number(values.reps)
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`)
  return { ...values, sizeBytes, reps, seed: Number(values.seed) }
}

/** One drkit plan and repository beside the database, plain or encrypted. */
async function createRepo(dir: string, kind: Kind): Promise<string> {
  const plan = join(dir, kind)
  await mkdir(plan, { recursive: true })
  await writeFile(
    join(plan, 'drkit.yaml'),
    'repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ../app.db\n',
  )
  const args = kind === 'encrypted' ? ['init', '--encrypt'] : ['init']
  await check([process.execPath, drkitBin, ...args], { cwd: plan, env: password })
  return plan
}

let timeFiles = 0
async function drkit(dir: string, args: string[]): Promise<Sample> {
  await syncDisks()
  const timeFile = join(dir, `time-${timeFiles++}.txt`)
  const m = await measure([process.execPath, drkitBin, ...args], { cwd: dir, env: password, timeFile })
  return { ms: m.ms, rssBytes: m.rssBytes }
}

async function runRep(rep: number, pristine: string, runDir: string, seed: number) {
  const dir = join(runDir, `rep-${rep + 1}`)
  await mkdir(dir, { recursive: true })
  const db = join(dir, 'app.db')
  await copyFile(pristine, db)
  const plans = { plain: await createRepo(dir, 'plain'), encrypted: await createRepo(dir, 'encrypted') }
  const order = rotate(kinds, rep)
  log(`  rep ${rep + 1} (order: ${order.join(', ')})`)
  const out = {} as Record<StepName, Record<Kind, Sample>>
  const step = async (name: StepName, args: (kind: Kind) => string[]) => {
    out[name] = {} as Record<Kind, Sample>
    for (const kind of order) {
      out[name][kind] = await drkit(plans[kind], args(kind))
      log(`    ${name}: ${kind} ${(out[name][kind].ms / 1000).toFixed(2)} s, RSS ${bytes(out[name][kind].rssBytes)}`)
    }
  }
  await step('full snapshot', () => ['backup', 'app-db', '--json'])
  updateRows(db, 0.01, seed)
  await step('after 1% updated', () => ['backup', 'app-db', '--json'])
  await step('restore', (kind) => ['restore', 'app-db', '--to', join(dir, `restored-${kind}.db`), '--json'])
  const expected = await sha256File(db)
  for (const kind of kinds) {
    if ((await sha256File(join(dir, `restored-${kind}.db`))) !== expected) throw new Error(`${kind} restore differs`)
  }
  const stored = {
    plain: await dirBytes(join(plans.plain, 'repo')),
    encrypted: await dirBytes(join(plans.encrypted, 'repo')),
  }
  await rm(dir, { recursive: true, force: true })
  return { samples: out, stored }
}

type RepResult = { samples: Record<StepName, Record<Kind, Sample>>; stored: Record<Kind, number> }

function render(info: { command: string; database: string; reps: number; version: string }, results: RepResult[]) {
  const reps = results.map((r) => r.samples)
  const stored = (kind: Kind) => bytes(median(results.map((r) => r.stored[kind])))
  const med = (name: StepName, kind: Kind, f: (s: Sample) => number) => median(reps.map((r) => f(r[name][kind])))
  const rows = steps.map((name) => {
    const ms = { plain: med(name, 'plain', (s) => s.ms), encrypted: med(name, 'encrypted', (s) => s.ms) }
    const rss = { plain: med(name, 'plain', (s) => s.rssBytes), encrypted: med(name, 'encrypted', (s) => s.rssBytes) }
    return `| ${name} | ${(ms.plain / 1000).toFixed(2)} s | ${(ms.encrypted / 1000).toFixed(2)} s | **${(ms.encrypted / ms.plain).toFixed(2)}** | ${bytes(rss.plain)} | ${bytes(rss.encrypted)} |`
  })
  return [
    '## Encryption at rest (issue 6)',
    '',
    'What `drkit init --encrypt` costs: the same database backed up into a plain and an',
    'encrypted repository side by side in one run (alternating which goes first), then both',
    'restored and checked byte for byte against the source. `bench/encryption.ts`; run it',
    'with `npm run bench:encryption -- [--size 1G] [--reps 3] [--write]`.',
    '',
    `- Command: \`${info.command}\`, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- Machine: ${machine()}`,
    `- drkit: ${info.version}, Node ${process.version}`,
    `- Database: ${info.database}; medians of ${info.reps} repetition${info.reps === 1 ? '' : 's'}`,
    '',
    '| step | plain | encrypted | encrypted / plain | peak RSS plain | peak RSS encrypted |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Repository size after both snapshots: plain ${stored('plain')}, encrypted ${stored('encrypted')}`,
    '(encryption adds 29 bytes, flag, nonce and tag, per 64 KiB frame and per file).',
  ].join('\n')
}

async function writeSection(section: string): Promise<void> {
  const block = `${markers.start}\n${section.trimEnd()}\n${markers.end}`
  const doc = await readFile(docPath, 'utf8')
  const start = doc.indexOf(markers.start)
  const end = doc.indexOf(markers.end)
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + block + doc.slice(end + markers.end.length)
      : `${doc.trimEnd()}\n\n${block}\n`
  await writeFile(docPath, next)
}

async function main(): Promise<number> {
  const opts = parseOptions()
  if (!existsSync(drkitBin)) throw new Error('build drkit first: npm run build')
  const db = await ensureDatabase(join(workDir, 'cache'), opts.sizeBytes, opts.seed, log)
  log(`database ${db.path} (${bytes(db.bytes)})`)
  const runDir = join(workDir, `encryption-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  try {
    await sha256File(db.path)
    const reps = []
    for (let rep = 0; rep < opts.reps; rep++) reps.push(await runRep(rep, db.path, runDir, opts.seed))
    const args = process.argv.slice(2)
    const section = render(
      {
        command: `npm run bench:encryption${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
        database: `${bytes(db.bytes)} generated SQLite file (seed ${opts.seed})`,
        reps: opts.reps,
        version: await drkitVersion(root),
      },
      reps,
    )
    process.stdout.write(`\n${section}\n`)
    if (opts.write) {
      await writeSection(section)
      log(`wrote the results into ${docPath}`)
    }
    return 0
  } finally {
    await rm(runDir, { recursive: true, force: true })
  }
}

process.exitCode = await main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  return 1
})
