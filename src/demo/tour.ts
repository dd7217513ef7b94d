/**
 * `drkit demo`: a complete tour on an embedded SQLite example, in a temporary folder.
 * The tour is a list of steps; each does one thing through the same ops a user calls
 * and says what happened. Later capabilities add steps here.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { InternalError } from '../errors.js'
import { backup } from '../ops/backup.js'
import { createRepository, type OpsContext, openContext } from '../ops/context.js'
import { restore } from '../ops/restore.js'
import { verify } from '../ops/verify.js'
import { shortId } from '../repository/index.js'
import type { Fingerprint } from '../sources/index.js'
import { createSampleApp, damageSampleApp } from './sample-app.js'

export interface TourStep {
  title: string
  detail: string
  durationMs: number
}

export interface TourReport {
  folder: string
  steps: TourStep[]
  recovered: boolean
}

interface TourState {
  dir: string
  ctx: OpsContext
  before?: Fingerprint
}

const plan = `# The demo's plan: one SQLite database, protected with a 5 s RPO and a 15 min RTO.
repository: ./repo
resources:
  app-db:
    type: sqlite
    path: ./app.db
    objectives: { rpo: 5s, rto: 15m }
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
    title: 'back up app-db',
    async run(s) {
      const { snapshot } = await backup(s.ctx, 'app-db')
      s.before = await fingerprint(s.ctx, 'source')
      const rows = snapshot.tables.map((t) => `${t.name} ${t.rows}`).join(', ')
      return `snapshot ${shortId(snapshot.id)}: ${snapshot.stats.size} bytes, ${snapshot.stats.storedBytes} stored; ${rows}`
    },
  },
  {
    title: 'disaster: drop a table and corrupt rows',
    async run(s) {
      const damage = damageSampleApp(join(s.dir, 'app.db'))
      return `dropped table ${damage.droppedTable}, overwrote the email of ${damage.corruptedRows} users of tenant t1`
    },
  },
  {
    title: 'restore the snapshot into a new file',
    async run(s) {
      const result = await restore(s.ctx, { resource: 'app-db', target: 'recovered.db' })
      return `${result.target} from snapshot ${shortId(result.snapshot.id)}`
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
      return `integrity_check ok; every table matches its state before the disaster (orders: ${orders} rows back)`
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
