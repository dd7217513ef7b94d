/**
 * Redis: drkit's SCAN-based backup of a database with a million keys of every type, side by
 * side with `redis-cli --rdb` (the server's own RDB dump, streamed to a file) of the same
 * server; then drkit's restore into an empty database, in keys per second; and the peak RSS
 * of both drkit commands. The keys are loaded with `redis-cli --pipe` into database 3 and
 * flushed at the end; restores go to database 2, flushed before each (other test suites on this machine use 7 to 15).
 */
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { Rand } from './generate.js'
import { check, dirBytes, type Measured, measure, median, rotate, run, syncDisks } from './measure.js'
import { type ProfileSummary, renderProfile, summarizeProfile } from './profile.js'
import { against, bytes, mdRow, met, ratio, seconds } from './report.js'
import { type BenchOptions, DrkitFolder, loadLine, log, root, storedBytes, workDir } from './sources-shared.js'

const sourceDb = 3
const targetDb = 2
const MiB = 2 ** 20

/** CPU seconds: the client command's (GNU time) and the Redis server's (INFO cpu, forked children included). */
interface Cpu {
  cpu: number
  serverCpu: number
}

interface Rep {
  rdb: { ms: number; rssBytes: number; bytes: number } & Cpu
  backup: { ms: number; rssBytes: number; bytes: number; stored: number } & Cpu
  restore: { ms: number; rssBytes: number; keys: number } & Cpu
  /** `redis-cli --pipe` of the commands that created the keys, into the same empty database. */
  pipe: { ms: number } & Cpu
  order: string
}

/** CPU seconds the Redis server has used so far, its forked children (RDB writers) included. */
async function serverCpu(): Promise<number> {
  const info = await check(['redis-cli', 'info', 'cpu'])
  let total = 0
  for (const name of ['used_cpu_sys', 'used_cpu_user', 'used_cpu_sys_children', 'used_cpu_user_children']) {
    total += Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  }
  return total
}

/** One command of the RESP protocol, as `redis-cli --pipe` reads it. */
function resp(args: string[]): string {
  let out = `*${args.length}\r\n`
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return out
}

/** The commands that create key number i: mostly small strings and hashes, every type present, 10% with a TTL. */
function keyCommands(r: Rand, i: number): string {
  const x = r.next()
  const n = r.between(3, 10)
  const value = () => (r.next() < 0.5 ? r.words(r.between(2, 12)) : r.hex(r.between(8, 64)))
  let key: string
  let out: string
  if (x < 0.5) {
    key = `str:${i}`
    out = resp(['SET', key, value()])
  } else if (x < 0.7) {
    key = `hash:${i}`
    const args = ['HSET', key]
    for (let k = 0; k < n; k++) args.push(`field${k}`, value())
    out = resp(args)
  } else if (x < 0.8) {
    key = `list:${i}`
    out = resp(['RPUSH', key, ...Array.from({ length: n }, value)])
  } else if (x < 0.9) {
    key = `set:${i}`
    out = resp(['SADD', key, ...Array.from({ length: n }, (_, k) => `${k}:${value()}`)])
  } else if (x < 0.97) {
    key = `zset:${i}`
    const args = ['ZADD', key]
    for (let k = 0; k < n; k++) args.push(String(r.int(1_000_000) / 100), `m${k}:${value()}`)
    out = resp(args)
  } else {
    key = `stream:${i}`
    out = ''
    for (let k = 0; k < Math.ceil(n / 3); k++)
      out += resp(['XADD', key, `${i}-${k + 1}`, 'event', value(), 'n', `${k}`])
  }
  if (r.next() < 0.1) out += resp(['PEXPIRE', key, '86400000'])
  return out
}

/**
 * The RESP commands that create the keys, in a file cached under bench/.work/cache (a pure
 * function of count and seed): loaded once into the source database, and replayed into the
 * target database with `redis-cli --pipe` as the reference for the restore.
 */
async function ensureCommands(count: number, seed: number): Promise<string> {
  const path = join(workDir, 'cache', `redis-${count}-seed${seed}-v1.resp`)
  if (existsSync(path)) return path
  await mkdir(dirname(path), { recursive: true })
  const out = createWriteStream(`${path}.tmp`)
  const r = new Rand(seed)
  let batch = ''
  for (let i = 0; i < count; i++) {
    batch += keyCommands(r, i)
    if (batch.length >= MiB) {
      if (!out.write(batch)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
      batch = ''
    }
  }
  await new Promise<void>((resolve, reject) => out.end(batch, () => resolve()).on('error', reject))
  await rename(`${path}.tmp`, path)
  return path
}

/** `redis-cli --pipe` of the commands file into db, under GNU time; checks that no command failed. */
async function pipe(commands: string, db: number, timeFile: string): Promise<Measured> {
  const m = await measure(['sh', '-c', `redis-cli -n ${db} --pipe < '${commands}'`], { cwd: workDir, timeFile })
  if (!/errors: 0,/.test(m.stdout)) throw new Error(`redis-cli --pipe into database ${db} failed:\n${m.stdout}`)
  return m
}

/** Loads the keys into the source database, unless it already holds them. */
async function loadKeys(commands: string, count: number, timeFile: string): Promise<number> {
  const have = Number((await check(['redis-cli', '-n', String(sourceDb), 'dbsize'])).trim())
  if (have === count) {
    log(`  database ${sourceDb} already holds ${count} keys: reusing them`)
    return have
  }
  await check(['redis-cli', '-n', String(sourceDb), 'flushdb'])
  const m = await pipe(commands, sourceDb, timeFile)
  const keys = Number((await check(['redis-cli', '-n', String(sourceDb), 'dbsize'])).trim())
  log(`  loaded ${keys} keys in ${seconds(m.ms)}`)
  if (keys !== count) throw new Error(`database ${sourceDb} holds ${keys} keys after loading ${count}`)
  return keys
}

async function runRep(i: number, opts: BenchOptions, runDir: string, keys: number, commands: string): Promise<Rep> {
  const dir = join(runDir, `rep-${i + 1}`)
  const drkit = new DrkitFolder(join(dir, 'drkit'))
  await drkit.create(
    `repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: redis://127.0.0.1:6379/${sourceDb}\n`,
  )
  const order = rotate(['drkit', 'redis-cli'] as const, i)
  log(`  rep ${i + 1}/${opts.reps} (order: ${order.join(', ')})`)
  const rep = { order: order.join(', ') } as Rep
  for (const tool of order) {
    await syncDisks()
    const cpuBefore = await serverCpu()
    if (tool === 'drkit') {
      const repo = join(drkit.dir, 'repo')
      const before = await dirBytes(repo)
      const m = await drkit.run(['backup', 'cache', '--json'])
      const grown = (await dirBytes(repo)) - before
      const cpu = { cpu: m.cpuSeconds, serverCpu: (await serverCpu()) - cpuBefore }
      rep.backup = { ms: m.ms, rssBytes: m.rssBytes, bytes: grown, stored: storedBytes(m), ...cpu }
    } else {
      const out = join(dir, 'dump.rdb')
      const m = await measure(['redis-cli', '--rdb', out], { cwd: dir, timeFile: drkit.timeFile() })
      const cpu = { cpu: m.cpuSeconds, serverCpu: (await serverCpu()) - cpuBefore }
      rep.rdb = { ms: m.ms, rssBytes: m.rssBytes, bytes: (await stat(out)).size, ...cpu }
      await rm(out)
    }
    const last = tool === 'drkit' ? rep.backup : rep.rdb
    log(`    backup: ${tool} ${seconds(last.ms)}, ${bytes(last.bytes)}, RSS ${bytes(last.rssBytes)}`)
  }
  for (const tool of order) {
    await check(['redis-cli', '-n', String(targetDb), 'flushdb'])
    await syncDisks()
    const cpuBefore = await serverCpu()
    if (tool === 'drkit') {
      const m = await drkit.run(['restore', 'cache', '--to', `redis://127.0.0.1:6379/${targetDb}`, '--json'])
      const cpu = { cpu: m.cpuSeconds, serverCpu: (await serverCpu()) - cpuBefore }
      const restored = Number((await check(['redis-cli', '-n', String(targetDb), 'dbsize'])).trim())
      if (restored !== keys)
        throw new Error(`the restore wrote ${restored} keys into database ${targetDb}, not ${keys}`)
      rep.restore = { ms: m.ms, rssBytes: m.rssBytes, keys: restored, ...cpu }
      log(`    restore: drkit ${seconds(m.ms)}, ${Math.round(keysPerSecond(rep))} keys/s, RSS ${bytes(m.rssBytes)}`)
    } else {
      const m = await pipe(commands, targetDb, drkit.timeFile())
      rep.pipe = { ms: m.ms, cpu: m.cpuSeconds, serverCpu: (await serverCpu()) - cpuBefore }
      log(`    restore: redis-cli --pipe ${seconds(rep.pipe.ms)}`)
    }
  }
  await check(['redis-cli', '-n', String(targetDb), 'flushdb'])
  if (!opts.keep) await rm(dir, { recursive: true, force: true })
  return rep
}

function cpuSeconds(s: number): string {
  return `${s.toFixed(1)} s`
}

function keysPerSecond(r: Rep): number {
  return r.restore.keys / (r.restore.ms / 1000)
}

async function profile(runDir: string): Promise<ProfileSummary[]> {
  const drkit = new DrkitFolder(join(runDir, 'profile'))
  await drkit.create(
    `repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: redis://127.0.0.1:6379/${sourceDb}\n`,
  )
  const out: ProfileSummary[] = []
  for (const [label, args] of [
    ['drkit backup (Redis)', ['backup', 'cache']],
    ['drkit restore (Redis)', ['restore', 'cache', '--to', `redis://127.0.0.1:6379/${targetDb}`]],
  ] as const) {
    const dir = join(drkit.dir, `cpuprofile-${out.length}`)
    const m: Measured = await drkit.run([...args], dir)
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`node --cpu-prof wrote no profile into ${dir}`)
    out.push(await summarizeProfile(join(dir, file), `${label}, ${seconds(m.ms)} wall`, root))
  }
  await check(['redis-cli', '-n', String(targetDb), 'flushdb'])
  return out
}

export async function benchRedis(opts: BenchOptions): Promise<string> {
  const loadAtStart = loadavg()[0]!
  const ping = await run(['redis-cli', 'ping']).catch(() => undefined)
  if (ping?.stdout.trim() !== 'PONG') throw new Error('no Redis at 127.0.0.1:6379 (or no redis-cli): start one')
  const version = /redis_version:(\S+)/.exec(await check(['redis-cli', 'info', 'server']))?.[1] ?? 'unknown'
  const targetSize = Number((await check(['redis-cli', '-n', String(targetDb), 'dbsize'])).trim())
  if (targetSize > 0)
    throw new Error(`Redis database ${targetDb} holds ${targetSize} keys: the benchmark needs it empty`)
  log(`Redis ${version}: loading ${opts.keys.toLocaleString('en')} keys into database ${sourceDb}`)
  const commands = await ensureCommands(opts.keys, opts.seed)
  const keys = await loadKeys(commands, opts.keys, join(workDir, 'load-time.txt'))
  const memory = /used_memory_human:(\S+)/.exec(await check(['redis-cli', 'info', 'memory']))?.[1] ?? '?'
  const runDir = join(workDir, `redis-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  // A diskless sync waits this long for more replicas before it starts (5 s by default), which
  // would bill `redis-cli --rdb` for idle time: set to 0 for the run, put back afterwards.
  const delay = (await check(['redis-cli', 'config', 'get', 'repl-diskless-sync-delay'])).trim().split('\n')[1]
  await check(['redis-cli', 'config', 'set', 'repl-diskless-sync-delay', '0'])
  try {
    const reps: Rep[] = []
    for (let i = 0; i < opts.reps; i++) reps.push(await runRep(i, opts, runDir, keys, commands))
    const profiles = opts.profile ? await profile(runDir) : []
    return render(opts, reps, profiles, { keys, version, memory, load: loadLine(loadAtStart) })
  } finally {
    if (delay) await check(['redis-cli', 'config', 'set', 'repl-diskless-sync-delay', delay])
    if (!opts.keep) {
      await rm(runDir, { recursive: true, force: true })
      await check(['redis-cli', '-n', String(sourceDb), 'flushdb'])
    }
  }
}

function render(
  opts: BenchOptions,
  reps: Rep[],
  profiles: ProfileSummary[],
  data: { keys: number; version: string; memory: string; load: string },
): string {
  const m = (pick: (r: Rep) => number) => median(reps.map(pick))
  const vsRdb = m((r) => r.backup.ms / r.rdb.ms)
  const rate = m(keysPerSecond)
  const backupRss = m((r) => r.backup.rssBytes)
  const restoreRss = m((r) => r.restore.rssBytes)
  const limit = 300 * MiB
  const lines = [
    '## Redis (issue 5)',
    '',
    'Written by the benchmark itself (`npm run bench:sources -- --only redis --write`, script `bench/redis.ts`); ' +
      'do not edit by hand.',
    '',
    `- Command: \`${opts.command}\``,
    `- Date: ${opts.date}`,
    `- Machine: ${opts.machine}`,
    `- Load: ${data.load}`,
    `- Versions: ${opts.versions}, Redis ${data.version}`,
    `- Data: ${data.keys.toLocaleString('en')} keys in database ${sourceDb} (seed ${opts.seed}; Redis used_memory ` +
      `${data.memory}): 50% strings, 20% hashes, 10% lists, 10% sets, 7% sorted sets, 3% streams; collections of ` +
      '3 to 10 members, values of 8 to 64 hex digits or 2 to 12 words; 10% with a TTL of a day. Loaded once with ' +
      '`redis-cli --pipe`.',
    `- Repetitions: ${opts.reps}, each with a fresh drkit repository; figures are medians, ratios the median of ` +
      'the ratios within each repetition; the order of drkit and `redis-cli --rdb` alternates.',
    '- `redis-cli --rdb FILE` asks the server for a replication sync and writes the RDB it streams (every ' +
      'database of the server; the others held only a few test keys); `repl-diskless-sync-delay` is set to 0 ' +
      'for the run (it is 5 s by default: a diskless sync waits that long for other replicas). drkit reads database ' +
      `${sourceDb} with SCAN and, per batch of keys, DUMP and PTTL in one MULTI/EXEC (the default \`form: dump\`, ` +
      `docs/REDIS.md); it restores with RESTORE. The restore goes into the empty database ${targetDb}; ` +
      'its key count is checked after each restore. As a reference for what the server can take, the commands ' +
      'that created the keys are replayed into the same empty database with `redis-cli --pipe`.',
    '',
    mdRow(['measurement (median)', 'drkit', '`redis-cli --rdb`', 'drkit / redis-cli']),
    mdRow(['---', '---:', '---:', '---:']),
    mdRow(['backup: time', seconds(m((r) => r.backup.ms)), seconds(m((r) => r.rdb.ms)), ratio(vsRdb)]),
    mdRow([
      'backup: bytes written',
      bytes(m((r) => r.backup.bytes)),
      bytes(m((r) => r.rdb.bytes)),
      ratio(m((r) => r.backup.bytes / r.rdb.bytes)),
    ]),
    mdRow([
      'backup: CPU of the client command',
      cpuSeconds(m((r) => r.backup.cpu)),
      cpuSeconds(m((r) => r.rdb.cpu)),
      ratio(m((r) => r.backup.cpu / r.rdb.cpu)),
    ]),
    mdRow([
      'backup: CPU of the Redis server',
      cpuSeconds(m((r) => r.backup.serverCpu)),
      cpuSeconds(m((r) => r.rdb.serverCpu)),
      ratio(m((r) => r.backup.serverCpu / r.rdb.serverCpu)),
    ]),
    mdRow(['backup: peak RSS', bytes(backupRss), bytes(m((r) => r.rdb.rssBytes)), '']),
    mdRow([
      'restore: time (reference: `redis-cli --pipe` of the commands that made the keys)',
      seconds(m((r) => r.restore.ms)),
      seconds(m((r) => r.pipe.ms)),
      ratio(m((r) => r.restore.ms / r.pipe.ms)),
    ]),
    mdRow([
      'restore: keys per second',
      Math.round(rate).toLocaleString('en'),
      Math.round(m((r) => r.restore.keys / (r.pipe.ms / 1000))).toLocaleString('en'),
      '',
    ]),
    mdRow([
      'restore: CPU of the client command',
      cpuSeconds(m((r) => r.restore.cpu)),
      cpuSeconds(m((r) => r.pipe.cpu)),
      ratio(m((r) => r.restore.cpu / r.pipe.cpu)),
    ]),
    mdRow([
      'restore: CPU of the Redis server',
      cpuSeconds(m((r) => r.restore.serverCpu)),
      cpuSeconds(m((r) => r.pipe.serverCpu)),
      ratio(m((r) => r.restore.serverCpu / r.pipe.serverCpu)),
    ]),
    mdRow(['restore: peak RSS', bytes(restoreRss), '', '']),
    '',
    mdRow(['target (issue 5)', 'measured', 'status']),
    mdRow(['---', '---:', '---']),
    mdRow(['backup time ≤ 2× `redis-cli --rdb`', against(vsRdb), met(vsRdb <= 2)]),
    mdRow(['restore ≥ 50,000 keys/s', Math.round(rate).toLocaleString('en'), met(rate >= 50_000)]),
    mdRow(['peak RSS of backup ≤ 300 MiB', bytes(backupRss), met(backupRss <= limit)]),
    mdRow(['peak RSS of restore ≤ 300 MiB', bytes(restoreRss), met(restoreRss <= limit)]),
    '',
    'Each repetition:',
    '',
    mdRow(['rep', 'order', 'backup: drkit / --rdb', 'restore: drkit / --pipe', 'keys/s', 'RSS backup / restore']),
    mdRow(['---:', '---', '---', '---', '---:', '---']),
    ...reps.map((r, i) =>
      mdRow([
        String(i + 1),
        r.order,
        `${seconds(r.backup.ms)} / ${seconds(r.rdb.ms)}`,
        `${seconds(r.restore.ms)} / ${seconds(r.pipe.ms)}`,
        Math.round(keysPerSecond(r)).toLocaleString('en'),
        `${bytes(r.backup.rssBytes)} / ${bytes(r.restore.rssBytes)}`,
      ]),
    ),
    '',
  ]
  if (profiles.length > 0) {
    lines.push('### Where drkit spends its time on Redis (`--profile`)', '')
    for (const p of profiles) lines.push(renderProfile(p), '')
  }
  return lines.join('\n')
}
