/**
 * The Redis source against a real server (127.0.0.1:6379, test databases 11-15 only):
 * backup and restore of every type through the CLI, TTLs, key patterns, refusal of a
 * non-empty target, the portable JSON export and import, and bad input.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { binary, fingerprintOf, redisUrl, seedEveryType, testDb, writeRedisPlan } from '../support/redis.js'
import { tempDir } from '../support/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function drkit(dir: string, ...args: string[]) {
  return runCli(args, { cwd: dir, env: { DRKIT_PASSWORD: 'test-passphrase' } })
}

async function ok(dir: string, ...args: string[]) {
  const run = await drkit(dir, ...args)
  if (run.code !== 0) throw new Error(`drkit ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`)
  return run
}

async function setup(db: number, extra = '') {
  const dir = await tempDir()
  await writeRedisPlan(dir, db, extra)
  await ok(dir, 'init')
  return dir
}

/** Export entries in one order, members of unordered types sorted, TTLs as whether one is set. */
function comparable(entries: { key: unknown; type: string; value: unknown; ttl: number | null }[]) {
  const sorted = (v: unknown) =>
    Array.isArray(v) ? [...v].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : v
  return entries
    .map(({ ttl, ...e }) => ({ ...e, value: e.type === 'list' ? e.value : sorted(e.value), expires: ttl !== null }))
    .sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1))
}

describe('redis source', () => {
  test('every type round-trips through backup and restore, with TTLs; an expired-since key is skipped', async () => {
    const src = await testDb(11)
    const dst = await testDb(12)
    const dir = await setup(11)
    await seedEveryType(src)
    // Long enough to outlast the backup command's start on a loaded machine.
    await src.set('ephemeral', 'gone soon', 'PX', 3000)
    const backup = (await ok(dir, 'backup', 'cache', '--json')).json<{ snapshots: { tables: unknown[] }[] }>()
    expect(backup.snapshots[0]!.tables).toContainEqual({ name: 'stream', rows: 2 })
    expect(backup.snapshots[0]!.tables).toContainEqual({ name: 'string', rows: 6 })
    await sleep(3000)
    await ok(dir, 'restore', 'cache', '--to', redisUrl(12), '--json')

    expect(await dst.exists('ephemeral')).toBe(0)
    expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
    expect(await dst.getBuffer(Buffer.concat([Buffer.from('str:bin:'), binary]))).toEqual(binary)
    expect(await dst.zscore('zset:scores', 'top')).toBe('inf')
    expect(await dst.xinfo('STREAM', 'stream:events')).toEqual(await src.xinfo('STREAM', 'stream:events'))
    expect(await dst.type('stream:empty')).toBe('stream')
    const [pa, pb] = [await dst.pttl('session:a'), await dst.pttl('session:b')]
    expect(pa).toBeGreaterThan(50_000)
    expect(pa).toBeLessThanOrEqual(60_000)
    expect(pb).toBeGreaterThan(20_000)
    expect(pb).toBeLessThanOrEqual(30_000)
    expect(await dst.pttl('str:text')).toBe(-1)
  })

  test('restore by key pattern, refusal of a non-empty target, and --force replacing only restored keys', async () => {
    const src = await testDb(11)
    const dst = await testDb(13)
    await seedEveryType(src)
    const dir = await setup(11)
    await ok(dir, 'backup', 'cache')

    const wrong = await drkit(dir, 'restore', 'cache', '--to', redisUrl(13), '--tables', 'session:*')
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('cache (type redis) restores part of itself by --keys, not --tables')
    const part = await ok(dir, 'restore', 'cache', '--to', redisUrl(13), '--keys', 'session:*', '--json')
    expect(part.json<{ counts: unknown }>().counts).toMatchObject({ keys: 2 })
    expect((await dst.keys('*')).sort()).toEqual(['session:a', 'session:b'])

    await dst.set('str:text', 'changed since')
    const refused = await drkit(dir, 'restore', 'cache', '--to', redisUrl(13))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('Redis database 13 at 127.0.0.1:6379 is not empty: it has 3 keys')
    expect(await dst.get('str:text')).toBe('changed since')

    await dst.set('mine:only', 'keep me')
    await dst.rpush('list:q', 'stale', 'stale', 'stale', 'stale', 'stale')
    await ok(dir, 'restore', 'cache', '--to', redisUrl(13), '--force')
    expect(await dst.get('str:text')).toBe('héllo wörld 😀')
    expect(await dst.get('mine:only')).toBe('keep me')
    expect(await dst.lrange('list:q', 0, -1)).toEqual(await src.lrange('list:q', 0, -1))
    await dst.del('mine:only')
    expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
  })

  test('export to JSON and import through the CLI, binary values as base64', async () => {
    const src = await testDb(11)
    const dst = await testDb(14)
    await seedEveryType(src)
    await src.del('stream:events', 'stream:empty')
    const dir = await setup(11, '    form: portable\n')
    await ok(dir, 'backup', 'cache')
    const exported = await ok(dir, 'export', 'cache', '--format', 'json')
    const entries = JSON.parse(exported.stdout) as { key: unknown; type: string; value: unknown; ttl: number | null }[]
    expect(entries).toHaveLength(await src.dbsize())
    expect(entries).toContainEqual({ key: 'hash:user', type: 'hash', value: { name: 'Ann', age: '42' }, ttl: null })
    const bin = { base64: binary.toString('base64') }
    expect(entries).toContainEqual({
      key: { base64: Buffer.concat([Buffer.from('str:bin:'), binary]).toString('base64') },
      type: 'string',
      value: bin,
      ttl: null,
    })
    expect(entries.find((e) => e.key === 'session:a')!.ttl).toBeGreaterThan(55_000)

    const file = join(dir, 'kv.json')
    await writeFile(file, exported.stdout)
    await writeRedisPlan(dir, 14)
    const imported = (await ok(dir, 'import', 'cache', file, '--json')).json<{ keys: number }>()
    expect(imported.keys).toBe(entries.length)
    expect(await fingerprintOf(dst)).toEqual(await fingerprintOf(src))
    expect(await dst.pttl('session:a')).toBeGreaterThan(50_000)

    const again = await drkit(dir, 'import', 'cache', file)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('is not empty')

    // The default form holds DUMP payloads: export reads them without a server, into the same entries.
    const dumped = await setup(11)
    await ok(dumped, 'backup', 'cache')
    const fromDump = JSON.parse((await ok(dumped, 'export', 'cache', '--format', 'json')).stdout) as typeof entries
    expect(comparable(fromDump)).toEqual(comparable(entries))
    await ok(dir, 'import', 'cache', file, '--force')
  })

  test('a malformed import file names the wrong entry and imports nothing', async () => {
    const dst = await testDb(15)
    const dir = await setup(15)
    const file = join(dir, 'bad.json')
    const good = { key: 'a', type: 'string', value: 'x', ttl: null }
    const cases: [unknown, string][] = [
      [[good, { key: 'z', type: 'zset', value: [['m', 'high']], ttl: null }], 'entry 1 is wrong: value[0] score'],
      [[good, good], 'entry 1 is wrong: key "a" appears twice'],
      [[good, { key: 'b', type: 'string', value: { base64: '%%%' } }], 'entry 1 is wrong: value is not valid base64'],
      [[good, { key: 's', type: 'stream', value: [] }], 'entry 1 is wrong: streams cannot be imported'],
      [{ key: 'a' }, 'expected an array'],
    ]
    for (const [doc, message] of cases) {
      await writeFile(file, JSON.stringify(doc))
      const run = await drkit(dir, 'import', 'cache', file)
      expect(run.code, run.stderr).toBe(2)
      expect(run.stderr).toContain(message)
      expect(run.stderr).toContain('Nothing was imported')
    }
    await writeFile(file, '[{"key": "a", ')
    expect((await drkit(dir, 'import', 'cache', file)).code).toBe(2)
    expect(await dst.dbsize()).toBe(0)
  })

  test('an unreachable server and a bad URL are clear errors', async () => {
    const dir = await tempDir()
    await writeFile(
      join(dir, 'drkit.yaml'),
      'repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: redis://127.0.0.1:1/0\n',
    )
    await ok(dir, 'init')
    const down = await drkit(dir, 'backup', 'cache')
    expect(down.code).toBe(1)
    expect(down.stderr).toContain('cannot reach Redis at 127.0.0.1:1')
    await writeFile(
      join(dir, 'drkit.yaml'),
      'repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: http://x/0\n',
    )
    const bad = await drkit(dir, 'backup', 'cache')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('is not a redis:// URL')
    const plan = await readFile(join(dir, 'drkit.yaml'), 'utf8')
    expect(plan).toContain('http://x/0')
  })
})
