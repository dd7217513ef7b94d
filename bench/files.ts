/**
 * Files: drkit side by side with restic on a generated tree (bench/files-tree.ts): first
 * backup, restore (checked with `diff -r` outside the timed part), and the backup after 1% of
 * the files changed, with the bytes each repository grew by.
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { changeTree, ensureTree, treeVersion } from './files-tree.js'
import { check, dirBytes, measure, median, resticDataAdded, rotate, run, syncDisks } from './measure.js'
import { type ProfileSummary, renderProfile, summarizeProfile } from './profile.js'
import { against, bytes, mdRow, met, ratio, seconds } from './report.js'
import { type BenchOptions, DrkitFolder, loadLine, log, root, storedBytes, workDir } from './sources-shared.js'

interface Sample {
  ms: number
  rssBytes: number
  bytes: number
}

interface Rep {
  full: { drkit: Sample; restic: Sample }
  restore: { drkit: Sample; restic: Sample }
  incremental: { drkit: Sample; restic: Sample }
  drkitStored: number
  resticAdded: number
  identical: { drkit: boolean; restic: boolean }
  order: string
}

type Tool = 'drkit' | 'restic'

async function sideBySide(label: string, order: Tool[], steps: Record<Tool, () => Promise<Sample>>) {
  const out = {} as Record<Tool, Sample>
  for (const tool of order) {
    await syncDisks()
    out[tool] = await steps[tool]()
    log(`    ${label}: ${tool} ${seconds(out[tool].ms)}, ${bytes(out[tool].bytes)}, RSS ${bytes(out[tool].rssBytes)}`)
  }
  return out
}

async function same(a: string, b: string): Promise<boolean> {
  return (await run(['diff', '-r', '--no-dereference', a, b])).code === 0
}

async function runRep(i: number, opts: BenchOptions, pristine: string, runDir: string): Promise<Rep> {
  const dir = join(runDir, `rep-${i + 1}`)
  const tree = join(dir, 'tree')
  await mkdir(dir, { recursive: true })
  await check(['cp', '-a', pristine, tree])
  const drkit = new DrkitFolder(join(dir, 'drkit'))
  await drkit.create('repository: ./repo\nresources:\n  uploads:\n    type: files\n    path: ../tree\n')
  const resticRepo = join(dir, 'restic-repo')
  const env = { RESTIC_PASSWORD: 'drkit-bench', RESTIC_REPOSITORY: resticRepo, RESTIC_CACHE_DIR: join(dir, 'rc') }
  await check(['restic', 'init', '--repository-version', '2'], { env })
  const restic = (args: string[]) => measure(['restic', ...args], { cwd: dir, env, timeFile: drkit.timeFile() })
  const order = rotate(['drkit', 'restic'] as const, i)
  log(`  rep ${i + 1}/${opts.reps} (order: ${order.join(', ')})`)

  const drkitRepo = join(drkit.dir, 'repo')
  let stored = 0
  let added = 0
  const backup: Record<Tool, () => Promise<Sample>> = {
    drkit: async () => {
      const before = await dirBytes(drkitRepo)
      const m = await drkit.run(['backup', 'uploads', '--json'])
      stored = storedBytes(m)
      return { ms: m.ms, rssBytes: m.rssBytes, bytes: (await dirBytes(drkitRepo)) - before }
    },
    restic: async () => {
      const before = await dirBytes(resticRepo)
      const m = await restic(['backup', '--json', '--host', 'bench', tree])
      added = resticDataAdded(m)
      return { ms: m.ms, rssBytes: m.rssBytes, bytes: (await dirBytes(resticRepo)) - before }
    },
  }
  const full = await sideBySide('first backup', order, backup)

  const drkitOut = join(dir, 'restored-drkit')
  const resticOut = join(dir, 'restored-restic')
  const restore = await sideBySide('restore', order, {
    drkit: async () => {
      const m = await drkit.run(['restore', 'uploads', '--to', drkitOut, '--json'])
      return { ms: m.ms, rssBytes: m.rssBytes, bytes: await dirBytes(drkitOut) }
    },
    restic: async () => {
      const m = await restic(['restore', 'latest', '--target', resticOut])
      return { ms: m.ms, rssBytes: m.rssBytes, bytes: await dirBytes(resticOut) }
    },
  })
  const identical = { drkit: await same(tree, drkitOut), restic: await same(tree, join(resticOut, tree)) }
  if (!identical.drkit || !identical.restic) log(`    WARNING: restored trees differ: ${JSON.stringify(identical)}`)
  await rm(drkitOut, { recursive: true, force: true })
  await rm(resticOut, { recursive: true, force: true })

  const change = await changeTree(tree, opts.seed)
  log(`    changed: ${JSON.stringify(change)}`)
  const incremental = await sideBySide('after 1% changed', order, backup)
  if (!opts.keep) await rm(dir, { recursive: true, force: true })
  return { full, restore, incremental, drkitStored: stored, resticAdded: added, identical, order: order.join(', ') }
}

async function profile(pristine: string, runDir: string): Promise<ProfileSummary[]> {
  const dir = join(runDir, 'profile')
  await mkdir(dir, { recursive: true })
  await check(['cp', '-a', pristine, join(dir, 'tree')])
  const drkit = new DrkitFolder(join(dir, 'drkit'))
  await drkit.create('repository: ./repo\nresources:\n  uploads:\n    type: files\n    path: ../tree\n')
  const out: ProfileSummary[] = []
  for (const [label, args] of [
    ['drkit backup (files)', ['backup', 'uploads']],
    ['drkit restore (files)', ['restore', 'uploads', '--to', join(dir, 'restored')]],
  ] as const) {
    const profDir = join(dir, `cpuprofile-${out.length}`)
    const m = await drkit.run([...args], profDir)
    const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`node --cpu-prof wrote no profile into ${profDir}`)
    out.push(await summarizeProfile(join(profDir, file), `${label}, ${seconds(m.ms)} wall`, root))
  }
  return out
}

export async function benchFiles(opts: BenchOptions): Promise<string> {
  const loadAtStart = loadavg()[0]!
  const version = await check(['restic', 'version']).catch(() => {
    throw new Error('restic is missing. On Debian or Ubuntu: sudo apt-get install restic')
  })
  log(`tree: ${bytes(opts.sizeBytes)}, seed ${opts.seed}`)
  const tree = await ensureTree(join(workDir, 'cache'), opts.sizeBytes, opts.seed)
  log(`  ${tree.generated ? 'generated' : 'reusing'} ${tree.path} (${tree.files} files, ${bytes(tree.bytes)})`)
  const runDir = join(workDir, `files-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  try {
    // Warm-up: read the tree once so that no tool pays for a cold page cache.
    await check(['tar', '-cf', '/dev/null', tree.path])
    const reps: Rep[] = []
    for (let i = 0; i < opts.reps; i++) reps.push(await runRep(i, opts, tree.path, runDir))
    const profiles = opts.profile ? await profile(tree.path, runDir) : []
    return render(opts, reps, profiles, tree, version.split(' ').slice(0, 2).join(' '), loadLine(loadAtStart))
  } finally {
    if (!opts.keep) await rm(runDir, { recursive: true, force: true })
  }
}

function render(
  opts: BenchOptions,
  reps: Rep[],
  profiles: ProfileSummary[],
  tree: Awaited<ReturnType<typeof ensureTree>>,
  restic: string,
  load: string,
): string {
  const m = (pick: (r: Rep) => number) => median(reps.map(pick))
  const fullTime = m((r) => r.full.drkit.ms / r.full.restic.ms)
  const restoreTime = m((r) => r.restore.drkit.ms / r.restore.restic.ms)
  const incTime = m((r) => r.incremental.drkit.ms / r.incremental.restic.ms)
  const incBytes = m((r) => r.incremental.drkit.bytes / r.incremental.restic.bytes)
  const rows = (label: string, step: 'full' | 'restore' | 'incremental') => [
    mdRow([
      `${label}: time`,
      seconds(m((r) => r[step].drkit.ms)),
      seconds(m((r) => r[step].restic.ms)),
      ratio(m((r) => r[step].drkit.ms / r[step].restic.ms)),
    ]),
    mdRow([
      `${label}: ${step === 'restore' ? 'bytes restored' : 'repository growth'}`,
      bytes(m((r) => r[step].drkit.bytes)),
      bytes(m((r) => r[step].restic.bytes)),
      ratio(m((r) => r[step].drkit.bytes / r[step].restic.bytes)),
    ]),
    mdRow([
      `${label}: peak RSS`,
      bytes(m((r) => r[step].drkit.rssBytes)),
      bytes(m((r) => r[step].restic.rssBytes)),
      ratio(m((r) => r[step].drkit.rssBytes / r[step].restic.rssBytes)),
    ]),
  ]
  const lines = [
    '## Files (issue 5)',
    '',
    'Written by the benchmark itself (`npm run bench:sources -- --only files --write`, script `bench/files.ts`); ' +
      'do not edit by hand.',
    '',
    `- Command: \`${opts.command}\``,
    `- Date: ${opts.date}`,
    `- Machine: ${opts.machine}`,
    `- Load: ${load}`,
    `- Versions: ${opts.versions}, ${restic}`,
    `- Tree: ${bytes(tree.bytes)} in ${tree.files.toLocaleString('en')} files (generator v${treeVersion}, seed ` +
      `${opts.seed}): ${tree.small.toLocaleString('en')} small (1 to 32 KiB, 20% of the bytes), ${tree.medium} medium ` +
      `(64 KiB to 4 MiB, 40%), ${tree.large} large (40%); half of them text (compressible), half random bytes; ` +
      'an empty directory and a symlink.',
    '- Change: 1% of the files, a third rewritten with new content of the same size, the others appended 4 KiB; ' +
      'one large file given 64 KiB of text in its middle.',
    `- Repetitions: ${opts.reps}, each on a fresh copy (\`cp -a\`) with fresh repositories (restic repository ` +
      'version 2, zstd `auto`; drkit unencrypted); the order of the tools alternates; figures are medians, ratios ' +
      'the median of the ratios within each repetition. Restores are compared with the tree by `diff -r`, outside ' +
      'the timed part. The tree is read once before the first measurement; nothing is dropped from the page cache.',
    '',
    mdRow(['measurement (median)', 'drkit', 'restic', 'drkit / restic']),
    mdRow(['---', '---:', '---:', '---:']),
    ...rows('first backup', 'full'),
    ...rows('restore', 'restore'),
    ...rows('after 1% changed: backup', 'incremental'),
    '',
    mdRow(['target (issue 5)', 'measured', 'status']),
    mdRow(['---', '---:', '---']),
    mdRow(['first backup time ≤ restic', against(fullTime), met(fullTime <= 1)]),
    mdRow(['restore time ≤ restic', against(restoreTime), met(restoreTime <= 1)]),
    mdRow(['after 1% changed: backup time ≤ restic', against(incTime), met(incTime <= 1)]),
    mdRow(['after 1% changed: bytes added ≤ restic', against(incBytes), met(incBytes <= 1)]),
    '',
    'Each repetition:',
    '',
    mdRow(['rep', 'order', 'first: drkit / restic', 'restore', 'after 1%', 'added', 'restored identical']),
    mdRow(['---:', '---', '---', '---', '---', '---', '---']),
    ...reps.map((r, i) =>
      mdRow([
        String(i + 1),
        r.order,
        `${seconds(r.full.drkit.ms)} / ${seconds(r.full.restic.ms)}`,
        `${seconds(r.restore.drkit.ms)} / ${seconds(r.restore.restic.ms)}`,
        `${seconds(r.incremental.drkit.ms)} / ${seconds(r.incremental.restic.ms)}`,
        `${bytes(r.incremental.drkit.bytes)} / ${bytes(r.incremental.restic.bytes)}`,
        `drkit ${r.identical.drkit ? 'yes' : 'NO'}, restic ${r.identical.restic ? 'yes' : 'NO'}`,
      ]),
    ),
    '',
  ]
  const last = reps.at(-1)
  if (last) {
    lines.push(
      `drkit's own count of stored bytes after the change (last repetition): ${bytes(last.drkitStored)}; ` +
        `restic's \`data_added\`: ${bytes(last.resticAdded)}.`,
      '',
    )
  }
  if (profiles.length > 0) {
    lines.push('### Where drkit spends its time on files (`--profile`)', '')
    for (const p of profiles) lines.push(renderProfile(p), '')
  }
  return lines.join('\n')
}
