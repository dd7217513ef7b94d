/**
 * The paced writer of the shipping-lag benchmark, run as a child process by
 * bench/capture.ts: an application that commits `--rate` small transactions per second
 * (`--per-tick` of them every `--tick-ms`) for `--seconds`, alternating a single-row
 * UPDATE and a single-row INSERT. For every write it records the capture sequence number
 * of its change (read back inside the transaction, so it is exactly this write's) and the
 * wall-clock time right after COMMIT returned. Writes the record as JSON to `--out`.
 *
 * Usage: vite-node bench/capture-writer.ts --db PATH --out FILE [--seconds 40] [--rate 2000] [--tick-ms 10] [--seed 1]
 */
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { openApp, statements } from './capture-workload.js'

export interface WriterRecord {
  /** Capture sequence number of each write's change. */
  seqs: number[]
  /** Date.now() right after each write's COMMIT returned. */
  commits: number[]
  /** Wall-clock span of the run and the rate actually achieved. */
  startedAt: number
  endedAt: number
  achievedRate: number
  /** How late the writer finished a tick's writes, after the tick began (ms): p99 and max. */
  lateP99Ms: number
  lateMaxMs: number
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      db: { type: 'string' },
      out: { type: 'string' },
      seconds: { type: 'string', default: '40' },
      rate: { type: 'string', default: '2000' },
      'tick-ms': { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
    },
    strict: true,
  })
  if (!values.db || !values.out) throw new Error('--db and --out are required')
  const seconds = Number(values.seconds)
  const tickMs = Number(values['tick-ms'])
  const perTick = Math.max(1, Math.round((Number(values.rate) * tickMs) / 1000))
  const db = openApp(values.db)
  const s = statements(db, Number(values.seed))
  const seqOf = db.prepare('SELECT max(seq) FROM _drkit_changes').pluck()
  const write = db.transaction((i: number) => {
    if (i % 2 === 0) s.update()
    else s.insert()
    return seqOf.get() as number | undefined
  })
  const seqs: number[] = []
  const commits: number[] = []
  const late: number[] = []
  const startedAt = Date.now()
  const t0 = performance.now()
  const endMs = seconds * 1000
  for (let tick = 0; tick * tickMs < endMs; tick++) {
    const tickStart = t0 + tick * tickMs
    const wait = tickStart - performance.now()
    if (wait > 0) await sleep(wait)
    // Catch up on every write due by the end of this tick, so a slow tick delays, never drops.
    const due = (tick + 1) * perTick
    while (seqs.length < due) {
      const seq = write(seqs.length)
      commits.push(Date.now())
      if (seq === undefined) throw new Error('capture is not installed in the database: no _drkit_changes sequence')
      seqs.push(Number(seq))
    }
    late.push(performance.now() - tickStart)
  }
  const endedAt = Date.now()
  db.close()
  late.sort((a, b) => a - b)
  const record: WriterRecord = {
    seqs,
    commits,
    startedAt,
    endedAt,
    achievedRate: (seqs.length * 1000) / Math.max(1, endedAt - startedAt),
    lateP99Ms: late[Math.min(late.length - 1, Math.ceil(late.length * 0.99) - 1)] ?? 0,
    lateMaxMs: late.at(-1) ?? 0,
  }
  writeFileSync(values.out, JSON.stringify(record))
}

main().catch((err: unknown) => {
  process.stderr.write(`capture-writer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
