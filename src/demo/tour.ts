/**
 * `drkit demo`: a complete tour on an embedded SQLite example, in a temporary folder.
 * The tour is a list of steps; each does one thing through the same ops a user calls
 * and says what happened. Later capabilities add steps here.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { type DrillReport, runDrill } from '../drills/index.js'
import { InternalError } from '../errors.js'
import { bookmark } from '../ops/bookmark.js'
import { createRepository, type OpsContext, openContext } from '../ops/context.js'
import { restore } from '../ops/restore.js'
import { listSnapshots } from '../ops/snapshots.js'
import { verify } from '../ops/verify.js'
import { formatDuration } from '../plan/index.js'
import { shortId } from '../repository/index.js'
import { runAgent } from '../scheduler/agent.js'
import type { Fingerprint } from '../sources/index.js'
import { addOrders, createSampleApp, damageSampleApp } from './sample-app.js'

export interface TourStep {
  title: string
  detail: string
  durationMs: number
}

export interface TourReport {
  folder: string
  steps: TourStep[]
  recovered: boolean
  /** The drill the tour ends with. */
  drill?: DrillReport
}

interface TourState {
  dir: string
  ctx: OpsContext
  before?: Fingerprint
  drill?: DrillReport
}

const plan = `# The demo's plan: one SQLite database, protected with a 5 s RPO and a 15 min RTO.
repository: ./repo
resources:
  app-db:
    type: sqlite
    path: ./app.db
    objectives: { rpo: 5s, rto: 15m }
    capture: { interval: 1s }
# A quarterly drill proves point-in-time recovery on a scratch copy and measures RTO and RPO.
drills:
  - name: app-db-pitr
    resource: app-db
    kind: pitr
    every: quarterly
`

const steps: { title: string; run(s: TourState): Promise<string> }[] = [
  {
    title: 'create the repository',
    async run(s) {
      await createRepository(s.ctx.plan)
      return `plan ${join(s.dir, 'drkit.yaml')}, repository ${join(s.dir, 'repo')}`
    },
  },
  {
    title: 'protect app-db: a snapshot, then continuous capture',
    async run(s) {
      await runAgent(s.ctx, { once: true })
      const [snapshot] = await listSnapshots(s.ctx, 'app-db')
      const rows = snapshot!.tables.map((t) => `${t.name} ${t.rows}`).join(', ')
      return `snapshot ${shortId(snapshot!.id)} (${rows}); capture triggers installed`
    },
  },
  {
    title: 'the application keeps writing',
    async run(s) {
      const added = addOrders(join(s.dir, 'app.db'), 200)
      await runAgent(s.ctx, { once: true })
      return `${added} new orders, captured and shipped as changes`
    },
  },
  {
    title: 'bookmark before a risky migration',
    async run(s) {
      const b = await bookmark(s.ctx, 'app-db', 'pre-migration')
      s.before = await fingerprint(s.ctx, 'source')
      return `bookmark ${b.name} at ${new Date(b.time).toISOString()} (change ${b.seq})`
    },
  },
  {
    title: 'disaster: the migration drops a table and corrupts rows',
    async run(s) {
      const damage = damageSampleApp(join(s.dir, 'app.db'))
      return `dropped table ${damage.droppedTable}, overwrote the email of ${damage.corruptedRows} users of tenant t1`
    },
  },
  {
    title: 'restore to the bookmark into a new file',
    async run(s) {
      const result = await restore(s.ctx, { resource: 'app-db', target: 'recovered.db', bookmark: 'pre-migration' })
      return `${result.target}: snapshot ${shortId(result.snapshot.id)} and ${result.changes} changes replayed`
    },
  },
  {
    title: 'check the recovered database',
    async run(s) {
      const after = await fingerprint(s.ctx, { target: 'recovered.db' })
      const same = JSON.stringify(after) === JSON.stringify(s.before)
      const check = integrityCheck(join(s.dir, 'recovered.db'))
      if (!same || check !== 'ok') throw new InternalError(`the recovered database differs (integrity: ${check})`)
      const orders = after.tables.orders?.rows ?? 0
      return `integrity_check ok; every table matches its state at the bookmark (orders: ${orders} rows back)`
    },
  },
  {
    title: 'verify every stored byte',
    async run(s) {
      const result = await verify(s.ctx, { readData: true })
      if (!result.ok) throw new InternalError('verify found damage in a fresh repository')
      return `${result.snapshots} snapshot, ${result.packs} packs, ${result.bytesRead} bytes read and checked`
    },
  },
  {
    title: 'drill: point-in-time recovery on a scratch copy, measured against the objectives',
    async run(s) {
      const report = await runDrill(s.ctx, 'app-db-pitr')
      s.drill = report
      if (!report.ok) throw new InternalError(`the demo drill failed: ${report.issues.join('; ')}`)
      const rto = formatDuration(report.rto.actualMs ?? 0)
      return (
        `${report.steps.length} steps passed; RTO ${rto} (objective 15m), RPO: ${report.rpo.changesLost} changes lost ` +
        '(objective 5s); the report is kept in the repository (`drkit drills` lists it)'
      )
    },
  },
]

export async function runTour(opts: { keep?: boolean; onStep?: (step: TourStep) => void } = {}): Promise<TourReport> {
  const dir = await mkdtemp(join(tmpdir(), 'drkit-demo-'))
  await writeFile(join(dir, 'drkit.yaml'), plan)
  createSampleApp(join(dir, 'app.db'))
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  const report: TourReport = { folder: dir, steps: [], recovered: false }
  try {
    const state: TourState = { dir, ctx }
    for (const step of steps) {
      const started = performance.now()
      const detail = await step.run(state)
      const done = { title: step.title, detail, durationMs: Math.round(performance.now() - started) }
      report.steps.push(done)
      opts.onStep?.(done)
    }
    report.recovered = true
    report.drill = state.drill
    return report
  } finally {
    await ctx.close()
    if (!opts.keep) await rm(dir, { recursive: true, force: true })
  }
}

function fingerprint(ctx: OpsContext, of: 'source' | { target: string }): Promise<Fingerprint> {
  return ctx.openSource('app-db').then(async (source) => {
    try {
      return await source.fingerprint(of)
    } finally {
      await source.close()
    }
  })
}

function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true })
  try {
    return String(db.pragma('integrity_check', { simple: true }))
  } finally {
    db.close()
  }
}
