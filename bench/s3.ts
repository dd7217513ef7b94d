/**
 * The S3 backend: the same SQLite database backed up (and restored) with drkit's fs backend
 * and with its S3 backend against a local s3rver, side by side; the S3 requests of each
 * backup are counted by a proxy in front of the server (test/support/s3.ts).
 */
import { copyFile, mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type S3Proxy, startS3Proxy, startS3Server } from '../test/support/s3.js'
import { ensureDatabase } from './generate.js'
import { median, rotate, sha256File, syncDisks } from './measure.js'
import { against, bytes, mdRow, met, ratio, seconds } from './report.js'
import { type BenchOptions, DrkitFolder, log, storedBytes, workDir } from './sources-shared.js'

const GiB = 2 ** 30
const bucket = 'drkit-bench'

interface Sample {
  ms: number
  rssBytes: number
  stored: number
}

interface Rep {
  backup: { fs: Sample; s3: Sample }
  restore: { fs: Sample; s3: Sample }
  /** Requests the S3 backup and restore sent, by operation. */
  requests: Record<string, number>
  restoreRequests: number
  identical: { fs: boolean; s3: boolean }
  order: string
}

type Backend = 'fs' | 's3'

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [op, n] of Object.entries(after)) if (n - (before[op] ?? 0) > 0) out[op] = n - (before[op] ?? 0)
  return out
}

async function runRep(i: number, opts: BenchOptions, pristine: string, runDir: string, proxy: S3Proxy): Promise<Rep> {
  const dir = join(runDir, `rep-${i + 1}`)
  await mkdir(dir, { recursive: true })
  await copyFile(pristine, join(dir, 'app.db'))
  const resource = (repo: string) =>
    `repository: ${repo}\nresources:\n  app-db:\n    type: sqlite\n    path: ../app.db\n`
  const folders: Record<Backend, DrkitFolder> = {
    fs: new DrkitFolder(join(dir, 'fs')),
    s3: new DrkitFolder(join(dir, 's3'), proxy.env),
  }
  await folders.fs.create(resource('./repo'))
  await folders.s3.create(resource(`s3://${bucket}/rep-${i + 1}`))
  const order = rotate(['fs', 's3'] as const, i)
  log(`  rep ${i + 1}/${opts.reps} (order: ${order.join(', ')})`)
  const rep = { order: order.join(', '), backup: {}, restore: {} } as Rep
  for (const b of order) {
    await syncDisks()
    const before = { ...proxy.counts }
    const m = await folders[b].run(['backup', 'app-db', '--json'])
    if (b === 's3') rep.requests = diff(proxy.counts, before)
    rep.backup[b] = { ms: m.ms, rssBytes: m.rssBytes, stored: storedBytes(m) }
    log(`    backup: ${b} ${seconds(m.ms)}, stored ${bytes(rep.backup[b].stored)}, RSS ${bytes(m.rssBytes)}`)
  }
  const expected = await sha256File(join(dir, 'app.db'))
  rep.identical = { fs: false, s3: false }
  for (const b of order) {
    await syncDisks()
    const out = join(dir, `restored-${b}.db`)
    const before = { ...proxy.counts }
    const m = await folders[b].run(['restore', 'app-db', '--to', out, '--json'])
    if (b === 's3') rep.restoreRequests = total(diff(proxy.counts, before))
    rep.restore[b] = { ms: m.ms, rssBytes: m.rssBytes, stored: (await stat(out)).size }
    rep.identical[b] = (await sha256File(out)) === expected
    log(`    restore: ${b} ${seconds(m.ms)}, RSS ${bytes(m.rssBytes)}, identical ${rep.identical[b]}`)
    await rm(out)
  }
  log(`    S3 requests of the backup: ${JSON.stringify(rep.requests)}`)
  if (!opts.keep) await rm(dir, { recursive: true, force: true })
  return rep
}

function requestsPerGiB(r: Rep): number {
  return total(r.requests) / (r.backup.s3.stored / GiB)
}

export async function benchS3(opts: BenchOptions): Promise<string> {
  log(`database: ${bytes(opts.s3SizeBytes)}, seed ${opts.seed}`)
  const db = await ensureDatabase(join(workDir, 'cache'), opts.s3SizeBytes, opts.seed, log)
  log(`  ${db.generated ? 'generated' : 'reusing'} ${db.path} (${bytes(db.bytes)})`)
  const runDir = join(workDir, `s3-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  const server = await startS3Server({ bucket })
  const proxy = await startS3Proxy(server.endpoint)
  try {
    await sha256File(db.path)
    const reps: Rep[] = []
    for (let i = 0; i < opts.reps; i++) reps.push(await runRep(i, opts, db.path, runDir, proxy))
    return render(opts, reps, db.bytes)
  } finally {
    await proxy.stop()
    await server.stop()
    if (!opts.keep) await rm(runDir, { recursive: true, force: true })
  }
}

function render(opts: BenchOptions, reps: Rep[], dbBytes: number): string {
  const m = (pick: (r: Rep) => number) => median(reps.map(pick))
  const mibps = (ms: number) => `${(dbBytes / 2 ** 20 / (ms / 1000)).toFixed(1)} MiB/s`
  const throughput = m((r) => r.backup.fs.ms / r.backup.s3.ms)
  const perGiB = m(requestsPerGiB)
  const last = reps.at(-1)
  const lines = [
    '## S3 backend (issue 5)',
    '',
    'Written by the benchmark itself (`npm run bench:sources -- --only s3 --write`, script `bench/s3.ts`); ' +
      'do not edit by hand.',
    '',
    `- Command: \`${opts.command}\``,
    `- Date: ${opts.date}`,
    `- Machine: ${opts.machine}`,
    `- Versions: ${opts.versions}, s3rver 3 (test/support/s3.ts: a child process, data on the local disk)`,
    `- Data: the ${bytes(dbBytes)} SQLite database of the SQLite benchmark (bench/generate.ts, seed ${opts.seed}).`,
    `- Repetitions: ${opts.reps}, each with a fresh fs repository and a fresh S3 prefix; the order alternates; ` +
      'figures are medians, ratios the median of the ratios within each repetition. Requests are counted by a ' +
      'proxy between drkit and s3rver, for the backup command alone (not `drkit init`). Throughput is the ' +
      "database's size over the backup's wall time. Both restores are compared with the database by SHA-256.",
    '',
    mdRow(['measurement (median)', 'fs backend', 'S3 backend (s3rver)', 'S3 / fs']),
    mdRow(['---', '---:', '---:', '---:']),
    mdRow([
      'backup: time',
      seconds(m((r) => r.backup.fs.ms)),
      seconds(m((r) => r.backup.s3.ms)),
      ratio(m((r) => r.backup.s3.ms / r.backup.fs.ms)),
    ]),
    mdRow(['backup: throughput', mibps(m((r) => r.backup.fs.ms)), mibps(m((r) => r.backup.s3.ms)), ratio(throughput)]),
    mdRow([
      'backup: bytes stored',
      bytes(m((r) => r.backup.fs.stored)),
      bytes(m((r) => r.backup.s3.stored)),
      ratio(m((r) => r.backup.s3.stored / r.backup.fs.stored)),
    ]),
    mdRow([
      'backup: peak RSS',
      bytes(m((r) => r.backup.fs.rssBytes)),
      bytes(m((r) => r.backup.s3.rssBytes)),
      ratio(m((r) => r.backup.s3.rssBytes / r.backup.fs.rssBytes)),
    ]),
    mdRow(['backup: S3 requests', '', String(m((r) => total(r.requests))), '']),
    mdRow([
      'restore: time',
      seconds(m((r) => r.restore.fs.ms)),
      seconds(m((r) => r.restore.s3.ms)),
      ratio(m((r) => r.restore.s3.ms / r.restore.fs.ms)),
    ]),
    mdRow(['restore: S3 requests', '', String(m((r) => r.restoreRequests)), '']),
    mdRow([
      'restore: peak RSS',
      bytes(m((r) => r.restore.fs.rssBytes)),
      bytes(m((r) => r.restore.s3.rssBytes)),
      ratio(m((r) => r.restore.s3.rssBytes / r.restore.fs.rssBytes)),
    ]),
    '',
    mdRow(['target (issue 5)', 'measured', 'status']),
    mdRow(['---', '---:', '---']),
    mdRow(['backup throughput on S3 ≥ half of fs', against(throughput), met(throughput >= 0.5)]),
    mdRow(['≤ 100 requests per GiB stored', perGiB.toFixed(1), met(perGiB <= 100)]),
    '',
    'Each repetition:',
    '',
    mdRow(['rep', 'order', 'backup: fs / S3', 'restore: fs / S3', 'S3 requests (backup)', 'restored identical']),
    mdRow(['---:', '---', '---', '---', '---', '---']),
    ...reps.map((r, i) =>
      mdRow([
        String(i + 1),
        r.order,
        `${seconds(r.backup.fs.ms)} / ${seconds(r.backup.s3.ms)}`,
        `${seconds(r.restore.fs.ms)} / ${seconds(r.restore.s3.ms)}`,
        Object.entries(r.requests)
          .map(([op, n]) => `${op} ${n}`)
          .join(', '),
        `fs ${r.identical.fs ? 'yes' : 'NO'}, S3 ${r.identical.s3 ? 'yes' : 'NO'}`,
      ]),
    ),
    '',
  ]
  if (last) lines.push(`Requests per GiB stored (last repetition): ${requestsPerGiB(last).toFixed(1)}.`, '')
  return lines.join('\n')
}
