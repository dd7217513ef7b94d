/**
 * The benchmark's results as markdown (the same text is printed and written into
 * docs/BENCHMARKS.md between two markers), with medians, side-by-side ratios and the
 * targets of issue 2 marked met or not met.
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { median } from './measure.js'
import { type ProfileSummary, renderProfile } from './profile.js'

export interface Sample {
  ms: number
  rssBytes: number
  /** Bytes the step left behind: repository growth for backups, the output file otherwise. */
  bytes: number
}

export interface RepResult {
  full: { drkit: Sample; restic: Sample; sqlite3: Sample }
  incremental: { drkit: Sample; restic: Sample }
  restore: { drkit: Sample; restic: Sample }
  /** Whether each restored file was byte-identical to the database it was taken from. */
  identical: { drkit: boolean; restic: boolean }
  /** What drkit itself reported (--json) as newly stored bytes. */
  drkitStored: { full: number; incremental: number }
  /** restic's own `data_added` of the incremental backup. */
  resticDataAdded: number
  order: string
}

export interface RunInfo {
  command: string
  date: string
  machine: string
  versions: string
  database: string
  update: string
  reps: number
}

const MiB = 2 ** 20
const rssLimit = 300 * MiB

export const markers = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' }

/** The markers around one benchmark's section of docs/BENCHMARKS.md, e.g. `bench:redis`. */
export function sectionMarkers(name: string): typeof markers {
  return { start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` }
}

/** One row of a markdown table. */
export function mdRow(cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`
}

export function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`
  return `${(n / 1024).toFixed(1)} KiB`
}

export function ratio(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a'
}

/** A ratio against its limit, precise enough that the verdict never hides in the rounding. */
export function against(x: number): string {
  return `${ratio(x, 3)}×`
}

export function met(ok: boolean): string {
  return ok ? '**met**' : '**not met**'
}

/** Medians over the reps of a value, and of a ratio taken within each rep (side by side). */
function med(reps: RepResult[], pick: (r: RepResult) => number): number {
  return median(reps.map(pick))
}

export function renderResults(info: RunInfo, reps: RepResult[], profiles: ProfileSummary[]): string {
  const m = (pick: (r: RepResult) => number) => med(reps, pick)
  const full = {
    drkit: m((r) => r.full.drkit.ms),
    restic: m((r) => r.full.restic.ms),
    sqlite3: m((r) => r.full.sqlite3.ms),
    vsRestic: m((r) => r.full.drkit.ms / r.full.restic.ms),
    vsSqlite: m((r) => r.full.drkit.ms / r.full.sqlite3.ms),
  }
  const incTime = m((r) => r.incremental.drkit.ms / r.incremental.restic.ms)
  const incBytes = m((r) => r.incremental.drkit.bytes / r.incremental.restic.bytes)
  const restoreTime = m((r) => r.restore.drkit.ms / r.restore.restic.ms)
  const backupRss = m((r) => Math.max(r.full.drkit.rssBytes, r.incremental.drkit.rssBytes))
  const restoreRss = m((r) => r.restore.drkit.rssBytes)

  const row = (cells: string[]) => `| ${cells.join(' | ')} |`
  const measurements = [
    row([
      'measurement (median of the reps)',
      'drkit',
      'restic',
      'sqlite3 `.backup`',
      'drkit / restic',
      'drkit / sqlite3',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:']),
    row([
      'full snapshot: time',
      seconds(full.drkit),
      seconds(full.restic),
      seconds(full.sqlite3),
      ratio(full.vsRestic),
      ratio(full.vsSqlite),
    ]),
    row([
      'full snapshot: bytes stored',
      bytes(m((r) => r.full.drkit.bytes)),
      bytes(m((r) => r.full.restic.bytes)),
      bytes(m((r) => r.full.sqlite3.bytes)),
      ratio(m((r) => r.full.drkit.bytes / r.full.restic.bytes)),
      ratio(m((r) => r.full.drkit.bytes / r.full.sqlite3.bytes)),
    ]),
    row([
      'full snapshot: peak RSS',
      bytes(m((r) => r.full.drkit.rssBytes)),
      bytes(m((r) => r.full.restic.rssBytes)),
      bytes(m((r) => r.full.sqlite3.rssBytes)),
      ratio(m((r) => r.full.drkit.rssBytes / r.full.restic.rssBytes)),
      '',
    ]),
    row([
      'after 1% of rows updated: snapshot time',
      seconds(m((r) => r.incremental.drkit.ms)),
      seconds(m((r) => r.incremental.restic.ms)),
      '',
      ratio(incTime),
      '',
    ]),
    row([
      'after 1% of rows updated: bytes added',
      bytes(m((r) => r.incremental.drkit.bytes)),
      bytes(m((r) => r.incremental.restic.bytes)),
      '',
      ratio(incBytes),
      '',
    ]),
    row([
      'after 1% of rows updated: peak RSS',
      bytes(m((r) => r.incremental.drkit.rssBytes)),
      bytes(m((r) => r.incremental.restic.rssBytes)),
      '',
      ratio(m((r) => r.incremental.drkit.rssBytes / r.incremental.restic.rssBytes)),
      '',
    ]),
    row([
      'restore (latest): time',
      seconds(m((r) => r.restore.drkit.ms)),
      seconds(m((r) => r.restore.restic.ms)),
      '',
      ratio(restoreTime),
      '',
    ]),
    row([
      'restore (latest): peak RSS',
      bytes(restoreRss),
      bytes(m((r) => r.restore.restic.rssBytes)),
      '',
      ratio(m((r) => r.restore.drkit.rssBytes / r.restore.restic.rssBytes)),
      '',
    ]),
  ]

  const targets = [
    row(['target (issue 2)', 'measured', 'status']),
    row(['---', '---:', '---']),
    row(['full snapshot time ≤ restic backup', against(full.vsRestic), met(full.vsRestic <= 1)]),
    row(['full snapshot time ≤ 2× `sqlite3 .backup`', against(full.vsSqlite), met(full.vsSqlite <= 2)]),
    row(['after 1% updated: bytes added ≤ 1/3 of restic', against(incBytes), met(incBytes <= 1 / 3)]),
    row(['after 1% updated: snapshot time ≤ restic', against(incTime), met(incTime <= 1)]),
    row(['restore time ≤ restic restore', against(restoreTime), met(restoreTime <= 1)]),
    row(['peak RSS of backup ≤ 300 MiB', bytes(backupRss), met(backupRss <= rssLimit)]),
    row(['peak RSS of restore ≤ 300 MiB', bytes(restoreRss), met(restoreRss <= rssLimit)]),
  ]

  const perRep = [
    row([
      'rep',
      'order',
      'full: drkit / restic / sqlite3',
      'after 1%: drkit / restic',
      'added: drkit / restic',
      'restore: drkit / restic',
      'restored byte-identical',
    ]),
    row(['---:', '---', '---', '---', '---', '---', '---']),
    ...reps.map((r, i) =>
      row([
        String(i + 1),
        r.order,
        `${seconds(r.full.drkit.ms)} / ${seconds(r.full.restic.ms)} / ${seconds(r.full.sqlite3.ms)}`,
        `${seconds(r.incremental.drkit.ms)} / ${seconds(r.incremental.restic.ms)}`,
        `${bytes(r.incremental.drkit.bytes)} / ${bytes(r.incremental.restic.bytes)}`,
        `${seconds(r.restore.drkit.ms)} / ${seconds(r.restore.restic.ms)}`,
        `drkit ${r.identical.drkit ? 'yes' : 'NO'}, restic ${r.identical.restic ? 'yes' : 'NO'}`,
      ]),
    ),
  ]

  const last = reps.at(-1)
  const lines = [
    '## Latest results',
    '',
    'Written by the benchmark itself (`--write`); do not edit by hand.',
    '',
    `- Command: \`${info.command}\``,
    `- Date: ${info.date}`,
    `- Machine: ${info.machine}`,
    `- Versions: ${info.versions}`,
    `- Database: ${info.database}`,
    `- Change: ${info.update}`,
    `- Repetitions: ${info.reps}; every figure is the median over them, every ratio the median of the ratios ` +
      'measured side by side within one repetition.',
    '',
    measurements.join('\n'),
    '',
    targets.join('\n'),
    '',
    'Each repetition:',
    '',
    perRep.join('\n'),
    '',
  ]
  if (last) {
    lines.push(
      `drkit's own report of newly stored bytes (last repetition): full ${bytes(last.drkitStored.full)}, ` +
        `after the 1% update ${bytes(last.drkitStored.incremental)}; restic's \`data_added\` after the update: ` +
        `${bytes(last.resticDataAdded)} (before compression).`,
      '',
    )
  }
  if (profiles.length > 0) {
    lines.push('### Where drkit spends its time (`--profile`)', '')
    lines.push(
      'One extra backup and restore of the same database under `node --cpu-prof`, self time by file and by ' +
        'function. Native work (SHA-256, zstd) is billed to the JavaScript function that calls it; `(idle)` is ' +
        'the event loop waiting for I/O; `(program)` is native code outside JavaScript.',
      '',
    )
    for (const p of profiles) lines.push(renderProfile(p), '')
  }
  return lines.join('\n')
}

/** Replaces the results section of the doc (between the markers), or appends one. */
export async function writeResults(
  docPath: string,
  section: string,
  template: string,
  which: typeof markers = markers,
): Promise<void> {
  const block = `${which.start}\n${section.trimEnd()}\n${which.end}`
  const doc = existsSync(docPath) ? await readFile(docPath, 'utf8') : template
  const start = doc.indexOf(which.start)
  const end = doc.indexOf(which.end)
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + block + doc.slice(end + which.end.length)
      : `${doc.trimEnd()}\n\n${block}\n`
  await writeFile(docPath, next)
}
