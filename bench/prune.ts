/**
 * Retention side by side: N snapshots of the generated SQLite database, 1% of its rows
 * updated between two, in a drkit and a restic repository; then `drkit forget` (retention
 * `last: K`, pruning) against `restic forget --keep-last K --prune` on the same data. Wall
 * time and peak memory of each, their ratios, the repository sizes before and after, and
 * `drkit verify --read-data` against `restic check --read-data` on what each forget left.
 * `--write` puts the section into docs/BENCHMARKS.md.
 *
 * Usage: npm run --silent build && npx vite-node bench/prune.ts -- [--size 1G] [--snapshots 30] [--keep 7] [--write] [--keep-work]
 */
import { existsSync } from 'node:fs'
import { copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ensureDatabase, generatorVersion, updateRows } from './generate.js'
import { check, dirBytes, drkitVersion, type Measured, machine, measure, syncDisks } from './measure.js'
import { bytes } from './report.js'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const workDir = join(root, 'bench', '.work')
const docPath = join(root, 'docs', 'BENCHMARKS.md')
const drkitBin = join(root, 'bin', 'drkit.js')
const markers = { start: '<!-- bench:prune:start -->', end: '<!-- bench:prune:end -->' }

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  if (!m) throw new Error(`--size ${text}: expected a size such as 256M or 1G`)
  return Math.round(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()))
}

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    snapshots: { type: 'string', default: '30' },
    keep: { type: 'string', default: '7' },
    seed: { type: 'string', default: '42' },
    write: { type: 'boolean', default: false },
    // Leaves the work directory in place, with copies of both repositories taken before forget.
    'keep-work': { type: 'boolean', default: false },
  },
  strict: true,
})
const size = parseSize(values.size)
const snapshots = Number(values.snapshots)
const keep = Number(values.keep)
const seed = Number(values.seed)

const dir = join(workDir, `prune-${new Date().toISOString().replace(/[:.]/g, '-')}`)
const drkitDir = join(dir, 'drkit')
const db = join(dir, 'app.db')
const resticEnv = {
  RESTIC_PASSWORD: 'drkit-bench',
  RESTIC_REPOSITORY: join(dir, 'restic-repo'),
  RESTIC_CACHE_DIR: join(dir, 'restic-cache'),
}
let timeFiles = 0
const drkit = (args: string[]): Promise<Measured> =>
  measure([process.execPath, drkitBin, ...args], { cwd: drkitDir, timeFile: join(dir, `time-${timeFiles++}`) })
const restic = (args: string[]): Promise<Measured> =>
  measure(['restic', ...args], { cwd: dir, env: resticEnv, timeFile: join(dir, `time-${timeFiles++}`) })

async function main(): Promise<void> {
  const generated = await ensureDatabase(join(workDir, 'cache'), size, seed, log)
  log(`database ${generated.path} (${bytes(generated.bytes)})`)
  await mkdir(drkitDir, { recursive: true })
  await copyFile(generated.path, db)
  await writeFile(
    join(drkitDir, 'drkit.yaml'),
    `repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ../app.db\n    retention: { last: ${keep} }\n`,
  )
  await check([process.execPath, drkitBin, 'init'], { cwd: drkitDir })
  await check(['restic', 'init', '--repository-version', '2'], { env: resticEnv })

  for (let i = 0; i < snapshots; i++) {
    if (i > 0) updateRows(db, 0.01, seed + i)
    await drkit(['backup', 'app-db'])
    await restic(['backup', '--host', 'bench', db])
    log(`  snapshot ${i + 1}/${snapshots}`)
  }
  const before = { drkit: await dirBytes(join(drkitDir, 'repo')), restic: await dirBytes(resticEnv.RESTIC_REPOSITORY) }
  if (values['keep-work']) {
    // Copies of both repositories before forget, to measure forget again on copies of them.
    await cp(join(drkitDir, 'repo'), join(dir, 'drkit-repo.setup'), { recursive: true })
    await cp(resticEnv.RESTIC_REPOSITORY, join(dir, 'restic-repo.setup'), { recursive: true })
  }

  // The order alternates with the seed's parity, so neither tool always runs on a warmer cache.
  const order = seed % 2 === 0 ? (['drkit', 'restic'] as const) : (['restic', 'drkit'] as const)
  const measured = {} as Record<'drkit' | 'restic', Measured>
  for (const tool of order) {
    await syncDisks()
    measured[tool] =
      tool === 'drkit'
        ? await drkit(['forget', '--json'])
        : await restic(['forget', '--keep-last', String(keep), '--prune', '--host', 'bench'])
    log(`  ${tool}: ${(measured[tool].ms / 1000).toFixed(2)} s, peak RSS ${bytes(measured[tool].rssBytes)}`)
  }
  const after = { drkit: await dirBytes(join(drkitDir, 'repo')), restic: await dirBytes(resticEnv.RESTIC_REPOSITORY) }
  // Then every stored byte read and checked, by each tool, on what the forget left.
  const checked = {} as Record<'drkit' | 'restic', Measured>
  for (const tool of order) {
    await syncDisks()
    checked[tool] =
      tool === 'drkit' ? await drkit(['verify', '--read-data', '--json']) : await restic(['check', '--read-data'])
    log(`  ${tool} read-data: ${(checked[tool].ms / 1000).toFixed(2)} s, peak RSS ${bytes(checked[tool].rssBytes)}`)
  }
  const ok = (JSON.parse(checked.drkit.stdout) as { ok: boolean }).ok
  const forgot = JSON.parse(measured.drkit.stdout) as {
    prune: {
      packs: { before: number; deleted: number; repacked: number; written: number }
      bytes: { unusedAfter: number }
    }
  }

  const ratio = (a: number, b: number) => (a / b).toFixed(2)
  const section = [
    '## Retention: forget and prune',
    '',
    `\`npx vite-node bench/prune.ts -- --size ${values.size} --snapshots ${snapshots} --keep ${keep}\`, ` +
      `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; ${machine()}; ${await drkitVersion(root)}, Node ${process.version}, ` +
      `${(await check(['restic', 'version'])).trim().split(' ').slice(0, 2).join(' ')}.`,
    '',
    `${snapshots} snapshots of the generated ${bytes(generated.bytes)} SQLite database (generator v${generatorVersion}, ` +
      `seed ${seed}), 1% of the rows of each table updated between two (as in the backup benchmark), in a drkit ` +
      `and a restic repository. Then \`drkit forget\` with \`retention: { last: ${keep} }\` against ` +
      `\`restic forget --keep-last ${keep} --prune\`: both keep the same ${keep} snapshots and delete or repack ` +
      'what only the others used. One run; wall time includes process start-up; peak RSS from GNU time.',
    '',
    '| | drkit | restic | drkit / restic |',
    '| --- | ---: | ---: | ---: |',
    `| forget + prune, wall time | ${(measured.drkit.ms / 1000).toFixed(2)} s | ${(measured.restic.ms / 1000).toFixed(2)} s | ${ratio(measured.drkit.ms, measured.restic.ms)} |`,
    `| peak memory (RSS) | ${bytes(measured.drkit.rssBytes)} | ${bytes(measured.restic.rssBytes)} | ${ratio(measured.drkit.rssBytes, measured.restic.rssBytes)} |`,
    `| repository before | ${bytes(before.drkit)} | ${bytes(before.restic)} | ${ratio(before.drkit, before.restic)} |`,
    `| repository after | ${bytes(after.drkit)} | ${bytes(after.restic)} | ${ratio(after.drkit, after.restic)} |`,
    `| \`verify --read-data\` / \`check --read-data\` afterwards, wall time | ${(checked.drkit.ms / 1000).toFixed(2)} s | ${(checked.restic.ms / 1000).toFixed(2)} s | ${ratio(checked.drkit.ms, checked.restic.ms)} |`,
    `| its peak memory (RSS) | ${bytes(checked.drkit.rssBytes)} | ${bytes(checked.restic.rssBytes)} | ${ratio(checked.drkit.rssBytes, checked.restic.rssBytes)} |`,
    '',
    `drkit's prune: ${forgot.prune.packs.before} packs, ${forgot.prune.packs.deleted} deleted, ` +
      `${forgot.prune.packs.repacked} repacked into ${forgot.prune.packs.written}; ` +
      `${bytes(forgot.prune.bytes.unusedAfter)} of plaintext left unused; ` +
      `\`drkit verify --read-data\` afterwards: ${ok ? 'ok' : 'FAILED'}.`,
    '',
  ].join('\n')
  process.stdout.write(`\n${section}\n`)
  if (values.write) {
    const block = `${markers.start}\n${section.trimEnd()}\n${markers.end}`
    const doc = existsSync(docPath) ? await readFile(docPath, 'utf8') : '# Benchmarks\n'
    const start = doc.indexOf(markers.start)
    const end = doc.indexOf(markers.end)
    await writeFile(
      docPath,
      start >= 0 && end > start
        ? doc.slice(0, start) + block + doc.slice(end + markers.end.length)
        : `${doc.trimEnd()}\n\n${block}\n`,
    )
    log(`wrote the results into ${docPath}`)
  }
}

try {
  await main()
} finally {
  if (values['keep-work']) log(`work directory kept: ${dir}`)
  else await rm(dir, { recursive: true, force: true })
}
