/**
 * `npm run bench:postgres`: drkit side by side with pg_dump / pg_restore on a pgbench
 * database (scale 60, about 1 GiB): snapshot vs `pg_dump -Fc`, restore into a new
 * database vs `pg_restore -j 2`, then capture under `pgbench -c 2 -T 60` (shipping lag
 * p99) and a restore of the end state compared with the source by fingerprint.
 * `--write` puts the results into docs/BENCHMARKS.md (the PostgreSQL section only).
 *
 * Usage: npm run bench:postgres -- [--scale 60] [--reps 1] [--seconds 60] [--write]
 *
 * The pgbench database is kept on the server as drkit_bench_s<scale> and reused by later
 * runs (a marker under bench/.work records that it was initialised completely).
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { percentile } from './capture-report.js'
import { check, dirBytes, drkitVersion, machine, measure } from './measure.js'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const workDir = join(root, 'bench', '.work', 'postgres')
const docPath = join(root, 'docs', 'BENCHMARKS.md')
const drkitBin = join(root, 'bin', 'drkit.js')
const server = process.env.DRKIT_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432'
const markers = { start: '<!-- bench:postgres:start -->', end: '<!-- bench:postgres:end -->' }

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '60' },
    reps: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '60' },
    write: { type: 'boolean', default: false },
  },
})
const scale = Number(values.scale)
const reps = Number(values.reps)
const seconds = Number(values.seconds)
const source = `drkit_bench_s${scale}`
const log = (line: string) => process.stderr.write(`${line}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function admin<T>(fn: (c: pg.Client) => Promise<T>, db = 'postgres'): Promise<T> {
  const c = new pg.Client({ connectionString: `${server}/${db}` })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

const dropDb = (name: string) =>
  admin(async (c) => {
    for (const s of (await c.query('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [name])).rows) {
      await c.query('SELECT pg_drop_replication_slot($1)', [s.slot_name])
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  })

async function ensureSource(): Promise<void> {
  const marker = join(workDir, `${source}.ready`)
  if (existsSync(marker)) return
  log(`initialising ${source} with pgbench -i -s ${scale}…`)
  await dropDb(source)
  await admin((c) => c.query(`CREATE DATABASE ${source}`))
  await check(['pgbench', '-i', '-q', '-s', String(scale), `${server}/${source}`])
  await writeFile(marker, new Date().toISOString())
}

async function plan(dir: string, capture: boolean): Promise<void> {
  await mkdir(dir, { recursive: true })
  const extra = capture ? '    capture: { interval: 1s }\n' : ''
  await writeFile(
    join(dir, 'drkit.yaml'),
    `repository: ./repo\nresources:\n  main:\n    type: postgres\n    url: ${server}/${source}\n${extra}`,
  )
  await check(['node', drkitBin, 'init'], { cwd: dir })
}

async function fingerprint(db: string) {
  const { fingerprintPostgres } = await import('../src/sources/postgres/fingerprint.js')
  const { connect } = await import('../src/sources/postgres/connect.js')
  const c = await connect(`${server}/${db}`, db)
  try {
    return await fingerprintPostgres(c)
  } finally {
    await c.end()
  }
}

interface Rep {
  dumpMs: number
  dumpBytes: number
  backupMs: number
  repoBytes: number
  backupRss: number
  pgRestoreMs: number
  restoreMs: number
  restoreRss: number
}

async function snapshotRep(i: number): Promise<Rep> {
  const dir = join(workDir, `rep${i}`)
  await rm(dir, { recursive: true, force: true })
  await plan(dir, false)
  const timeFile = join(dir, 'time.txt')
  const dumpFile = join(dir, 'dump.fc')
  log(`rep ${i}: pg_dump -Fc…`)
  const dump = await measure(['pg_dump', '-Fc', '-f', dumpFile, `${server}/${source}`], { cwd: dir, timeFile })
  log(`rep ${i}: drkit backup…`)
  const backup = await measure(['node', drkitBin, 'backup', 'main'], { cwd: dir, timeFile })
  const restored = `drkit_bench_r${i}`
  const restoredPg = `drkit_bench_p${i}`
  await dropDb(restored)
  await dropDb(restoredPg)
  log(`rep ${i}: pg_restore -j 2…`)
  await admin((c) => c.query(`CREATE DATABASE ${restoredPg}`))
  const started = performance.now()
  await measure(['pg_restore', '-j', '2', '-d', `${server}/${restoredPg}`, dumpFile], { cwd: dir, timeFile })
  const pgRestoreMs = performance.now() - started
  log(`rep ${i}: drkit restore…`)
  const restore = await measure(['node', drkitBin, 'restore', 'main', '--to', `${server}/${restored}`], {
    cwd: dir,
    timeFile,
  })
  const same = JSON.stringify(await fingerprint(restored)) === JSON.stringify(await fingerprint(source))
  if (!same) throw new Error('the drkit restore does not match the source')
  await dropDb(restored)
  await dropDb(restoredPg)
  const result = {
    dumpMs: dump.ms,
    dumpBytes: (await stat(dumpFile)).size,
    backupMs: backup.ms,
    repoBytes: await dirBytes(join(dir, 'repo')),
    backupRss: backup.rssBytes,
    pgRestoreMs,
    restoreMs: restore.ms,
    restoreRss: restore.rssBytes,
  }
  await rm(dir, { recursive: true, force: true })
  return result
}

interface CaptureRun {
  tps: string
  changes: number
  lags: number[]
  replayMs: number
  replayed: number
  matches: boolean
}

async function captureRun(): Promise<CaptureRun> {
  const dir = join(workDir, 'capture')
  await rm(dir, { recursive: true, force: true })
  await plan(dir, true)
  const { openContext } = await import('../src/ops/context.js')
  const { runAgent } = await import('../src/scheduler/agent.js')
  const { restore } = await import('../src/ops/restore.js')
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  const lags: number[] = []
  let changes = 0
  const stop = new AbortController()
  let started: () => void = () => {}
  const ready = new Promise<void>((r) => {
    started = r
  })
  log('capture: agent installing capture and taking the base snapshot…')
  const agent = runAgent(ctx, {
    signal: stop.signal,
    onEvent: (e) => {
      if (e.event === 'agent.started') started()
      if (e.event === 'capture.shipped' && e.lagMs !== undefined) {
        lags.push(e.lagMs)
        changes += e.changes ?? 0
      }
    },
  })
  await Promise.race([ready, agent])
  log(`capture: pgbench -c 2 -T ${seconds}…`)
  const bench = await check(['pgbench', '-n', '-c', '2', '-T', String(seconds), `${server}/${source}`])
  const tps = /tps = ([\d.]+)/.exec(bench)?.[1] ?? '?'
  stop.abort()
  await agent
  const target = 'drkit_bench_capture'
  await dropDb(target)
  log('capture: restoring the end state…')
  const t0 = performance.now()
  const result = await restore(ctx, { resource: 'main', target: `${server}/${target}` })
  const replayMs = performance.now() - t0
  const matches = JSON.stringify(await fingerprint(target)) === JSON.stringify(await fingerprint(source))
  await dropDb(target)
  const { removeCapture } = await import('../src/ops/capture.js')
  await removeCapture(ctx, 'main')
  await ctx.close()
  await rm(dir, { recursive: true, force: true })
  return { tps, changes, lags: lags.sort((a, b) => a - b), replayMs, replayed: result.changes, matches }
}

function render(reps: Rep[], cap: CaptureRun, about: { machine: string; drkit: string; sizeBytes: number }): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
  const m = (f: (r: Rep) => number) => median(reps.map(f))
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
  return [
    markers.start,
    `pgbench scale ${scale} (${mib(about.sizeBytes)} on disk), ${reps.length} repetition(s), medians. ${about.machine}; ${about.drkit}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| | drkit | pg_dump / pg_restore | drkit ÷ other | target |',
    '| --- | --- | --- | --- | --- |',
    `| snapshot (\`drkit backup\` vs \`pg_dump -Fc\`) | ${s(m((r) => r.backupMs))} | ${s(m((r) => r.dumpMs))} | ${ratio(
      m((r) => r.backupMs),
      m((r) => r.dumpMs),
    )} | ≤ 1× |`,
    `| stored size (repository vs dump file) | ${mib(m((r) => r.repoBytes))} | ${mib(m((r) => r.dumpBytes))} | ${ratio(
      m((r) => r.repoBytes),
      m((r) => r.dumpBytes),
    )} | |`,
    `| restore into a new database (vs \`pg_restore -j 2\`) | ${s(m((r) => r.restoreMs))} | ${s(m((r) => r.pgRestoreMs))} | ${ratio(
      m((r) => r.restoreMs),
      m((r) => r.pgRestoreMs),
    )} | ≤ 1× |`,
    `| peak memory, backup / restore | ${mib(m((r) => r.backupRss))} / ${mib(m((r) => r.restoreRss))} | | | |`,
    '',
    `Capture under \`pgbench -c 2 -T ${seconds}\` (${Number(cap.tps).toFixed(0)} tps while drkit captured): ${cap.changes} changes shipped in ${cap.lags.length} segments; ` +
      `shipping lag (age of a segment's oldest change when stored) p50 ${(percentile(cap.lags, 0.5) / 1000).toFixed(2)} s, ` +
      `p99 ${(percentile(cap.lags, 0.99) / 1000).toFixed(2)} s, max ${((cap.lags.at(-1) ?? 0) / 1000).toFixed(2)} s (target p99 ≤ 5 s). ` +
      `Restoring the end state (base snapshot + ${cap.replayed} replayed changes) took ${s(cap.replayMs)}; ` +
      `its fingerprint ${cap.matches ? 'matches' : 'DOES NOT match'} the source.`,
    markers.end,
  ].join('\n')
}

async function writeSection(section: string): Promise<void> {
  const doc = await readFile(docPath, 'utf8')
  const start = doc.indexOf(markers.start)
  const end = doc.indexOf(markers.end)
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + section + doc.slice(end + markers.end.length)
      : `${doc.trimEnd()}\n\n## PostgreSQL (issue 4)\n\nRun with \`npm run bench:postgres -- --write\`.\n\n${section}\n`
  await writeFile(docPath, next)
}

await mkdir(workDir, { recursive: true })
await ensureSource()
const sizeBytes = await admin(async (c) => {
  const { rows } = await c.query('SELECT pg_database_size($1)::bigint AS n', [source])
  return Number(rows[0].n)
})
const results: Rep[] = []
for (let i = 0; i < reps; i++) results.push(await snapshotRep(i))
const cap = await captureRun()
const section = render(results, cap, { machine: machine(), drkit: await drkitVersion(root), sizeBytes })
process.stdout.write(`${section}\n`)
if (values.write) await writeSection(section)
