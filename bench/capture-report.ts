/**
 * The change-capture benchmark's results as markdown: the section "Change capture (issue 3)"
 * of docs/BENCHMARKS.md, between its own two markers, rewritten whole by `--write` (the
 * other sections of the file are left as they are).
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { type ReplayPart, type ReplaySplit, replayPartNames } from './capture-profile.js'
import type { Throughput, Workload } from './capture-workload.js'
import { median } from './measure.js'
import { type ProfileSummary, renderProfile } from './profile.js'
import { bytes } from './report.js'

export const modes = ['off', 'triggers', 'on'] as const
export type Mode = (typeof modes)[number]

export interface OverheadRep {
  order: Mode[]
  results: Record<Workload, Record<Mode, Throughput>>
  /** With the agent running: changes still in the changelog when the writer stopped, and how long shipping them took. */
  backlog: Record<Workload, number>
  drainMs: Record<Workload, number | undefined>
  /** The agent's CPU time during each measurement, as a share of one core (it idles while off and triggers run). */
  agentCpu: Record<Workload, Record<Mode, number>>
}

export interface LagStats {
  p50: number
  p90: number
  p99: number
  max: number
}

export interface LagResult {
  seconds: number
  writes: number
  achievedRate: number
  lateP99Ms: number
  lateMaxMs: number
  segments: number
  changesPerSegment: number
  /** Writes whose change was never found in a stored segment. */
  missing: number
  /** The agent's CPU time while the writer ran, as a share of one core. */
  agentCpuShare: number
  /** Commit to the segment file's ctime, and to its first sight in the listing (ms). */
  stored: LagStats
  seen: LagStats
  agentProfile?: ProfileSummary
}

export interface RestoreSample {
  ms: number
  /** CPU time, user + sys, of every thread. */
  cpuMs: number
  rssBytes: number
  changes: number
  durationMs: number
}

export interface ReplayRep {
  order: string
  snapshot: RestoreSample
  at: RestoreSample
  /** Whether the state restored --at had exactly the live database's rows. */
  identical: boolean
}

export interface ReplayResult {
  changes: number
  rows: number
  passes: { changes: number; ms: number }[]
  segments: number
  segmentBytes: number
  at: string
  reps: ReplayRep[]
  profile: { split: ReplaySplit; summary: ProfileSummary; wallMs: number }
  /** Every segment read with Repository.readSegment; then, in a second pass, its steps timed apart. */
  decodeOnly: { ms: number; changes: number; getMs: number; parseMs: number; decodeChangeMs: number }
}

export interface CaptureResults {
  info: {
    command: string
    date: string
    machine: string
    versions: string
    seconds: number
    reps: number
    restoreReps: number
    intervalMs: number
    lagRate: number
    lagTickMs: number
    insertBatch: number
    replayBatch: number
  }
  overhead: OverheadRep[]
  lag: LagResult
  replay: ReplayResult
}

export const captureMarkers = { start: '<!-- bench:capture:start -->', end: '<!-- bench:capture:end -->' }

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a')
const secs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a')
const msText = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms).toLocaleString('en')} ms` : 'n/a')
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : 'n/a')
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a')
const met = (ok: boolean) => (ok ? '**met**' : '**not met**')
const workloadNames: Record<Workload, string> = {
  update: 'single-row UPDATE by primary key, one per transaction',
  insert: 'INSERT, 1000 rows per transaction',
}

export function renderCaptureSection(r: CaptureResults): string {
  const { info, overhead, lag, replay } = r
  const m = (pick: (x: OverheadRep) => number) => median(overhead.map(pick))
  const onOff = (w: Workload) => m((x) => x.results[w].on.rowsPerSecond / x.results[w].off.rowsPerSecond)
  const trigOff = (w: Workload) => m((x) => x.results[w].triggers.rowsPerSecond / x.results[w].off.rowsPerSecond)
  const beyond = median(replay.reps.map((x) => x.at.ms - x.snapshot.ms))
  const applyRate = median(replay.reps.map((x) => (x.at.changes * 1000) / (x.at.ms - x.snapshot.ms)))
  const lagLimit = 2 * info.intervalMs
  const millionth = replay.changes.toLocaleString('en')

  const lines: string[] = [
    '## Change capture (issue 3)',
    '',
    'Written by the benchmark itself (`npm run bench:capture -- --write`, script `bench/capture.ts`); do not edit',
    'this section by hand.',
    '',
    '### Running it',
    '',
    '```sh',
    'npm run bench:capture                          # builds drkit first; about 6 minutes',
    'npm run bench:capture -- --quick               # a short run, about 3 minutes',
    'npm run bench:capture -- --write --profile     # the run that produced the results below',
    '```',
    '',
    'Options: `--quick`, `--reps N` (repetitions of the throughput and of the restore measurements; default 5 and 3,',
    'quick 2 and 1), `--seconds S`',
    '(per throughput measurement; default 5, quick 1.5), `--lag-seconds S` (paced writing; default 45, quick 15),',
    '`--changes N` (replay; default 1,000,000), `--seed N`, `--write` (rewrite this section), `--profile` (also',
    'profile the agent during the lag run), `--only overhead|lag|replay` (one part, raw JSON, for debugging),',
    "`--keep` (keep the run's files). The benchmark runs the built CLI",
    '(`bin/drkit.js`) for everything drkit does; its own files go under `bench/.work/capture-<time>/`, removed at the',
    'end unless `--keep`.',
    '',
    '### Method',
    '',
    `- **Database.** \`accounts\` (${replay.rows.toLocaleString('en')} rows: integer primary key, owner, email, balance,`,
    '  updated_at, note) and `events` (integer primary key, account_id, kind, at, a JSON payload of 100 to 200',
    "  bytes; one secondary index), in WAL mode; the application's connection (better-sqlite3 in the benchmark",
    "  process) uses `synchronous=NORMAL`, as applications usually do. Capture is drkit's own (docs/CAPTURE.md):",
    `  AFTER triggers copying before and after images into \`_drkit_changes\`; the plan says \`capture: { interval: ${info.intervalMs / 1000}s }\`.`,
    '- **Capture overhead.** Three fresh copies of the database in each repetition: *off* (no capture), *triggers*',
    '  (capture installed by `drkit agent --once`, which also takes the base snapshot; no agent runs afterwards, so',
    "  this is the triggers' cost alone) and *on* (`drkit agent` running as a separate process, as in production; it",
    '  installs capture itself). One connection writes as fast as it can for',
    `  ${info.seconds} s after a 0.25 s warm-up: (a) single-row UPDATEs by primary key (balance and updated_at of a random`,
    `  account), each its own transaction; (b) INSERTs of event rows, ${info.insertBatch} per transaction. The order of the`,
    '  three modes rotates from one repetition to the next (for each workload, the three run back to back). The',
    '  agent runs for the whole repetition, as in production; after each *on* measurement the benchmark waits until',
    '  it has shipped the backlog (reported below), so it has nothing to ship while *off* and *triggers* run. The',
    "  agent's CPU time comes from `/proc/<pid>/stat`. Ratios are taken within a repetition; medians are reported.",
    `- **Shipping lag.** A paced writer in a child process (\`bench/capture-writer.ts\`) commits ${info.lagRate.toLocaleString('en')} small`,
    `  transactions per second (${(info.lagRate * info.lagTickMs) / 1000} every ${info.lagTickMs} ms, alternately a single-row UPDATE and a single-row INSERT) for`,
    `  ${lag.seconds} s while \`drkit agent\` runs. Inside each transaction it reads the changelog's sequence number back (so`,
    '  each write knows the seq of its change) and notes the wall-clock time right after COMMIT. The benchmark polls',
    "  the repository's segment listing (`Repository.listSegments`, whose keys carry first and last seq) every 50 ms;",
    "  a segment is *stored* at its file's ctime (the fs backend links a synced temporary file under the key, so",
    '  the ctime is the moment the key appears), and the first poll that lists it gives an upper bound. The lag of a',
    '  write is stored minus committed, for the earliest stored segment holding its seq.',
    `- **Replay.** A fresh copy; \`drkit agent --once\` installs capture and takes the base snapshot; then ${millionth}`,
    `  single-row UPDATEs by primary key (balance, updated_at, note), ${info.replayBatch.toLocaleString('en')} per transaction, each`,
    '  transaction followed by a `drkit agent --once` pass that ships it. The restore moment is the end of the',
    '  recoverable window (`drkit timeline --json`), so `restore --at` replays every change after the snapshot.',
    '  `drkit restore --snapshot <base>` and `drkit restore --at <moment>` run back to back, order rotating; the',
    '  difference of their wall times (spawn to exit) is what replay adds, and changes divided by that difference',
    '  is the replay rate; the same with CPU time (user + sys, from GNU time), which a busy machine inflates less, is',
    '  shown beside it. The state restored `--at` is compared row by row with the live database. One more',
    "  `restore --at` under `node --cpu-prof` splits the main thread's time into segment decoding, applying, and the",
    '  rest; and a plain `node` process reads and decodes every segment alone with the built',
    '  `Repository.readSegment`, then once more with its steps (file read, zstd and `JSON.parse`, `decodeChange`)',
    '  timed apart.',
    '',
    '### Latest results',
    '',
    `- Command: \`${info.command}\``,
    `- Date: ${info.date}`,
    `- Machine: ${info.machine} (shared with other work: only ratios measured side by side mean much)`,
    `- Versions: ${info.versions}`,
    `- Repetitions: ${info.reps} of the throughput measurements, ${info.restoreReps} of the restores; every figure is a median`,
    '  over them, every ratio the median of the ratios measured side by side within one repetition.',
    '',
    row(['target (issue 3)', 'measured', 'status']),
    row(['---', '---:', '---']),
    row([
      'capture on: single-row UPDATE throughput ≥ 50% of without',
      ratio(onOff('update')),
      met(onOff('update') >= 0.5),
    ]),
    row([
      'capture on: batched INSERT throughput ≥ 50% of without',
      ratio(onOff('insert')),
      met(onOff('insert') >= 0.5),
    ]),
    row([
      `shipping lag p99 ≤ 2× \`capture.interval\` (${secs(lagLimit)}) at ${info.lagRate.toLocaleString('en')} writes/s`,
      secs(lag.stored.p99),
      met(lag.stored.p99 <= lagLimit && lag.missing === 0),
    ]),
    row([
      `restore --at ${millionth} changes after the snapshot ≤ snapshot restore + 15 s`,
      `+${secs(beyond)}`,
      met(beyond <= 15_000),
    ]),
    row(['changes applied per second during a restore ≥ 100,000', `${int(applyRate)}/s`, met(applyRate >= 100_000)]),
    '',
    '#### Capture overhead',
    '',
    row([
      'workload (rows per second, median)',
      'off',
      'triggers only',
      'on (agent running)',
      'triggers / off',
      'on / off',
      "agent's CPU while on ran (one core = 100%)",
      'left for the agent when the writer stopped',
      'shipped within',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...(['update', 'insert'] as const).map((w) => {
      const drains = overhead.map((x) => x.drainMs[w])
      return row([
        workloadNames[w],
        int(m((x) => x.results[w].off.rowsPerSecond)),
        int(m((x) => x.results[w].triggers.rowsPerSecond)),
        int(m((x) => x.results[w].on.rowsPerSecond)),
        ratio(trigOff(w)),
        ratio(onOff(w)),
        pct(m((x) => x.agentCpu[w].on)),
        `${int(m((x) => x.backlog[w]))} changes`,
        drains.some((d) => d === undefined) ? 'timed out (300 s)' : secs(median(drains as number[])),
      ])
    }),
    '',
    'Each repetition (rows per second; off / triggers only / on):',
    '',
    row(['rep', 'order', 'UPDATE', 'INSERT']),
    row(['---:', '---', '---', '---']),
    ...overhead.map((x, i) =>
      row([
        String(i + 1),
        x.order.join(', '),
        modes.map((mode) => int(x.results.update[mode].rowsPerSecond)).join(' / '),
        modes.map((mode) => int(x.results.insert[mode].rowsPerSecond)).join(' / '),
      ]),
    ),
    '',
    '#### Shipping lag',
    '',
    `${lag.writes.toLocaleString('en')} writes in ${lag.seconds} s (${int(lag.achievedRate)} per second achieved; the writer finished a`,
    `${info.lagTickMs} ms tick's writes at most ${msText(lag.lateMaxMs)} after the tick began, p99 ${msText(lag.lateP99Ms)}),`,
    `shipped in ${lag.segments} segments of ${int(lag.changesPerSegment)} changes (median) by an agent using ${pct(lag.agentCpuShare)} of one core${
      lag.missing > 0
        ? `; **${lag.missing} writes were never found in a stored segment**`
        : '; every write was found in a stored segment'
    }.`,
    '',
    row(['commit → …', 'p50', 'p90', 'p99', 'max']),
    row(['---', '---:', '---:', '---:', '---:']),
    row([
      'stored (segment file ctime)',
      msText(lag.stored.p50),
      msText(lag.stored.p90),
      msText(lag.stored.p99),
      msText(lag.stored.max),
    ]),
    row([
      'seen by a 50 ms poll of `Repository.listSegments`',
      msText(lag.seen.p50),
      msText(lag.seen.p90),
      msText(lag.seen.p99),
      msText(lag.seen.max),
    ]),
    '',
    '#### Replay',
    '',
  ]
  const passRate =
    replay.passes.reduce((a, p) => a + p.changes, 0) / (replay.passes.reduce((a, p) => a + p.ms, 0) / 1000)
  lines.push(
    `${millionth} changes after the snapshot, shipped by ${replay.passes.length} \`drkit agent --once\` passes (median ` +
      `${secs(median(replay.passes.map((p) => p.ms)))} per pass of ${int(median(replay.passes.map((p) => p.changes)))} changes, ` +
      `start-up included: ${int(passRate)} changes per second shipped) into ${replay.segments} segments, ` +
      `${bytes(replay.segmentBytes)} (${int(replay.segmentBytes / replay.changes)} bytes per change). Restore moment: ${replay.at}.`,
    '',
    row(['measurement (median)', 'restore --snapshot', `restore --at (+${millionth} changes)`, 'difference']),
    row(['---', '---:', '---:', '---:']),
    row([
      'wall time, spawn to exit',
      secs(median(replay.reps.map((x) => x.snapshot.ms))),
      secs(median(replay.reps.map((x) => x.at.ms))),
      `+${secs(beyond)}`,
    ]),
    row([
      "drkit's own `durationMs`",
      secs(median(replay.reps.map((x) => x.snapshot.durationMs))),
      secs(median(replay.reps.map((x) => x.at.durationMs))),
      `+${secs(median(replay.reps.map((x) => x.at.durationMs - x.snapshot.durationMs)))}`,
    ]),
    row([
      'CPU time (user + sys, all threads)',
      secs(median(replay.reps.map((x) => x.snapshot.cpuMs))),
      secs(median(replay.reps.map((x) => x.at.cpuMs))),
      `+${secs(median(replay.reps.map((x) => x.at.cpuMs - x.snapshot.cpuMs)))}`,
    ]),
    row([
      'peak RSS',
      bytes(median(replay.reps.map((x) => x.snapshot.rssBytes))),
      bytes(median(replay.reps.map((x) => x.at.rssBytes))),
      '',
    ]),
    '',
    row([
      'rep',
      'order',
      '--snapshot',
      '--at',
      'replay rate (changes / wall difference)',
      'by CPU time difference',
      'restored --at equals the live rows',
    ]),
    row(['---:', '---', '---:', '---:', '---:', '---:', '---']),
    ...replay.reps.map((x, i) =>
      row([
        String(i + 1),
        x.order,
        secs(x.snapshot.ms),
        secs(x.at.ms),
        `${int((x.at.changes * 1000) / (x.at.ms - x.snapshot.ms))}/s`,
        `${int((x.at.changes * 1000) / (x.at.cpuMs - x.snapshot.cpuMs))}/s`,
        x.identical ? 'yes' : '**NO**',
      ]),
    ),
    '',
    `Where replay time goes: one more \`restore --at\` under \`node --cpu-prof\` (${secs(replay.profile.wallMs)} wall),`,
    'main thread, each sample billed to the innermost frame that belongs to one of these parts:',
    '',
    renderSplit(replay.profile.split, replay.changes),
    '',
    `Reading and decoding the ${replay.decodeOnly.changes.toLocaleString('en')} changes alone, with plain \`node\` on the` +
      ` built code: \`Repository.readSegment\` over every segment took ${secs(replay.decodeOnly.ms)} ` +
      `(${int((replay.decodeOnly.changes * 1000) / replay.decodeOnly.ms)} changes per second); a second pass timed its ` +
      `steps apart: reading the files ${secs(replay.decodeOnly.getMs)}, zstd and \`JSON.parse\` ` +
      `${secs(replay.decodeOnly.parseMs)}, \`decodeChange\` (tagged strings to values, one object per row image) ` +
      `${secs(replay.decodeOnly.decodeChangeMs)}.`,
    '',
    renderProfile(replay.profile.summary),
    '',
  )
  if (lag.agentProfile) {
    lines.push(
      '#### The agent under load (`--profile`)',
      '',
      `\`drkit agent\` under \`node --cpu-prof\` during the lag run above, self time by file and by function.`,
      '',
      renderProfile(lag.agentProfile),
      '',
    )
  }
  return lines.join('\n')
}

function renderSplit(split: ReplaySplit, changes: number): string {
  const order: ReplayPart[] = ['decode', 'apply', 'iterate', 'gc', 'image', 'idle', 'other']
  return [
    row(['part', 'time', 'share', 'changes per second, were it alone']),
    row(['---', '---:', '---:', '---:']),
    ...order.map((p) => {
      const ms = split.parts[p]
      const rate = p === 'decode' || p === 'apply' || p === 'iterate' ? `${int((changes * 1000) / ms)}/s` : ''
      return row([replayPartNames[p], secs(ms), `${((ms / split.totalMs) * 100).toFixed(1)}%`, rate])
    }),
    row(['total sampled', secs(split.totalMs), '100%', '']),
  ].join('\n')
}

/** Replaces this benchmark's section of the doc (between its markers), or appends one; nothing else changes. */
export async function writeCaptureSection(docPath: string, section: string): Promise<void> {
  const block = `${captureMarkers.start}\n${section.trimEnd()}\n${captureMarkers.end}`
  const doc = existsSync(docPath) ? await readFile(docPath, 'utf8') : '# Benchmarks\n'
  const start = doc.indexOf(captureMarkers.start)
  const end = doc.indexOf(captureMarkers.end)
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + block + doc.slice(end + captureMarkers.end.length)
      : `${doc.trimEnd()}\n\n${block}\n`
  await writeFile(docPath, next)
}
