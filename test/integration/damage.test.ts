/**
 * Damage to each kind of stored object (pack, index file, snapshot manifest; a pack deleted or
 * truncated): verify finds it and names it, a restore that needs it fails cleanly without
 * writing the target, and the snapshots that do not need it still restore exactly.
 *
 * One repository is built once: two resources (different page sizes, so they share no chunk),
 * two snapshots each, every backup a run of its own so that each resource's data sits in its
 * own packs. Each case damages a copy of it.
 */
import { cp, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VerifyResult } from '../../src/ops/verify.js'
import { openFsBackend } from '../../src/repository/backends/fs.js'
import { keys } from '../../src/repository/format.js'
import { Repository, type Snapshot } from '../../src/repository/index.js'
import { decodeIndexFile, indexedPackIds } from '../../src/repository/pack-index.js'
import { runCli } from '../support/cli.js'
import { createDb, type Fingerprint, fingerprint, mutateDb, seededRandom, writePlan } from '../support/fault-db.js'
import { tempDir } from '../support/tmp.js'

const seed = 424242
const resources = ['app-db', 'other-db'] as const
type Name = (typeof resources)[number]

interface Blob {
  id: string
  pack: string
  offset: number
  length: number
}

interface Fixture {
  dir: string
  dbs: Record<Name, string>
  /** Per resource, its two snapshots, oldest first, with the fingerprint of the state each was taken from. */
  snapshots: Record<Name, { snapshot: Snapshot; fingerprint: Fingerprint }[]>
  /** Per snapshot id: the blobs it needs (chunk lists and chunks). */
  uses: Map<string, Blob[]>
  /** Per pack id: the index file (its key) that lists it. */
  indexOf: Map<string, string>
}

let fixture: Fixture

beforeAll(async () => {
  const rng = seededRandom(seed)
  const dir = await mkdtemp(join(tmpdir(), 'drkit-damage-'))
  const dbs = { 'app-db': join(dir, 'app.db'), 'other-db': join(dir, 'other.db') }
  createDb(dbs['app-db'], { seed, sizeMiB: 3, pageSize: 4096 })
  createDb(dbs['other-db'], { seed: seed + 1, sizeMiB: 3, pageSize: 8192, wal: true })
  await writePlan(dir, dbs)
  const init = await runCli(['init'], { cwd: dir })
  expect(init.code, init.stderr).toBe(0)

  const prints: Record<Name, Fingerprint[]> = { 'app-db': [], 'other-db': [] }
  for (let round = 0; round < 2; round++) {
    for (const name of resources) {
      if (round > 0) mutateDb(dbs[name], rng, `round ${round}`, { share: 0.2 })
      prints[name].push(fingerprint(dbs[name]))
      const run = await runCli(['backup', name], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
    }
  }

  const repository = await Repository.open(await openFsBackend(join(dir, 'repo')))
  const index = await repository.loadIndex()
  const reader = await repository.blobReader()
  const uses = new Map<string, Blob[]>()
  const snapshots = {} as Fixture['snapshots']
  for (const name of resources) {
    const list = await repository.listSnapshots(name)
    expect(list).toHaveLength(2)
    snapshots[name] = list.map((snapshot, i) => ({ snapshot, fingerprint: prints[name][i]! }))
    for (const snapshot of list) {
      const ids: string[] = []
      for (const ref of snapshot.streams) {
        ids.push(...ref.lists)
        for await (const id of reader.chunkIds(ref, 'fixture')) ids.push(id)
      }
      uses.set(
        snapshot.id,
        [...new Set(ids)].map((id) => {
          const at = index.get(id)!
          return { id, pack: at.pack, offset: at.offset, length: at.length }
        }),
      )
    }
  }
  const indexOf = new Map<string, string>()
  for await (const { key } of repository.backend.list(keys.indexPrefix)) {
    const name = key.slice(keys.indexPrefix.length)
    for (const id of indexedPackIds(decodeIndexFile(await repository.backend.get(key), name))) indexOf.set(id, key)
  }
  await repository.close()
  fixture = { dir, dbs, snapshots, uses, indexOf }
}, 120_000)

afterAll(async () => {
  if (fixture) await rm(fixture.dir, { recursive: true, force: true })
})

/** A copy of the fixture's repository with its own plan (the databases stay where they are). */
async function copyRepository(): Promise<{ dir: string; repo: string }> {
  const dir = await tempDir('drkit-damage-case-')
  await cp(join(fixture.dir, 'repo'), join(dir, 'repo'), { recursive: true })
  await writePlan(dir, fixture.dbs)
  return { dir, repo: join(dir, 'repo') }
}

async function flipByte(file: string, at: number): Promise<void> {
  const bytes = await readFile(file)
  expect(at, `offset ${at} in ${file}`).toBeLessThan(bytes.length)
  bytes[at] = bytes[at]! ^ 0x5a
  await writeFile(file, bytes)
}

const packsOf = (snapshotId: string) => new Set(fixture.uses.get(snapshotId)!.map((b) => b.pack))
const allSnapshots = () => resources.flatMap((name) => fixture.snapshots[name])

/** A pack that app-db's first snapshot uses and no other-db snapshot does. */
function appOnlyPack(): string {
  const otherPacks = new Set(fixture.snapshots['other-db'].flatMap(({ snapshot }) => [...packsOf(snapshot.id)]))
  const pack = [...packsOf(fixture.snapshots['app-db'][0]!.snapshot.id)].find((p) => !otherPacks.has(p))
  expect(pack, 'app-db has a pack of its own').toBeDefined()
  return pack!
}

/** The snapshots that need at least one blob matching `pred`. */
function needing(pred: (blob: Blob) => boolean): string[] {
  return allSnapshots()
    .map(({ snapshot }) => snapshot.id)
    .filter((id) => fixture.uses.get(id)!.some(pred))
    .sort()
}

async function verifyJson(dir: string, readData: boolean): Promise<{ code: number | null; result: VerifyResult }> {
  const run = await runCli(['verify', ...(readData ? ['--read-data'] : []), '--json'], { cwd: dir })
  expect(run.stderr, 'verify --json prints nothing but its document').toBe('')
  return { code: run.code, result: run.json<VerifyResult>() }
}

/** Restores a snapshot that needs damaged data: exit 1, an integrity message, no target and no temp file. */
async function expectRestoreFails(dir: string, name: Name, snapshotId: string, message: RegExp): Promise<void> {
  const target = `refused-${snapshotId.slice(0, 8)}.db`
  const run = await runCli(['restore', name, '--to', target, '--snapshot', snapshotId, '--json'], { cwd: dir })
  expect(run.code, `restore of ${name} ${snapshotId}: ${run.stdout}${run.stderr}`).toBe(1)
  const { error } = run.json<{ error: { code: string; message: string } }>()
  expect(error.code, error.message).toBe('integrity')
  expect(error.message).toMatch(message)
  const left = (await readdir(dir)).filter((f) => f.includes(target))
  expect(left, 'the failed restore left nothing behind').toEqual([])
}

/** Restores a snapshot and checks that the result has the fingerprint of the state it was taken from. */
async function expectRestores(dir: string, name: Name, index: number): Promise<void> {
  const { snapshot, fingerprint: expected } = fixture.snapshots[name][index]!
  const target = `restored-${name}-${index}.db`
  const run = await runCli(['restore', name, '--to', target, '--snapshot', snapshot.id], { cwd: dir })
  expect(run.code, `restore of ${name} snapshot ${index} (${snapshot.id}): ${run.stderr}`).toBe(0)
  expect(fingerprint(join(dir, target)), `${name} snapshot ${index}`).toEqual(expected)
}

describe('damage to the repository', () => {
  it('a flipped byte in a pack: verify names the pack and the snapshots it affects', async () => {
    const { dir, repo } = await copyRepository()
    const pack = appOnlyPack()
    const [first, second] = fixture.snapshots['app-db'].map((s) => s.snapshot.id) as [string, string]
    // A chunk (not a chunk list) in that pack which both of app-db's snapshots need.
    const lists = new Set(
      fixture.snapshots['app-db'].flatMap(({ snapshot }) => snapshot.streams.flatMap((r) => r.lists)),
    )
    const blob = fixture.uses
      .get(first)!
      .find((b) => b.pack === pack && !lists.has(b.id) && fixture.uses.get(second)!.some((o) => o.id === b.id))
    expect(blob, 'a chunk both app-db snapshots share').toBeDefined()
    await flipByte(join(repo, keys.pack(pack)), blob!.offset + Math.floor(blob!.length / 2))

    const { code, result } = await verifyJson(dir, true)
    expect(code, JSON.stringify(result.problems)).toBe(1)
    expect(result.ok).toBe(false)
    const problem = result.problems.find((p) => p.object === keys.pack(pack))
    expect(problem, JSON.stringify(result.problems)).toBeDefined()
    expect([...problem!.snapshots].sort()).toEqual(needing((b) => b.id === blob!.id))
    expect([...problem!.snapshots].sort()).toEqual([first, second].sort())

    await expectRestoreFails(dir, 'app-db', first, /damaged|does not match/)
    await expectRestoreFails(dir, 'app-db', second, /damaged|does not match/)
    await expectRestores(dir, 'other-db', 0)
    await expectRestores(dir, 'other-db', 1)
  })

  it('a flipped byte in a chunk list: verify names the pack and the snapshot that needs the list', async () => {
    const { dir, repo } = await copyRepository()
    const { snapshot } = fixture.snapshots['app-db'][1]!
    const listId = snapshot.streams[0]!.lists[0]!
    const list = fixture.uses.get(snapshot.id)!.find((b) => b.id === listId)!
    await flipByte(join(repo, keys.pack(list.pack)), list.offset + Math.floor(list.length / 2))

    const { code, result } = await verifyJson(dir, true)
    expect(code, JSON.stringify(result.problems)).toBe(1)
    const problem = result.problems.find((p) => p.object === keys.pack(list.pack))
    expect(problem, JSON.stringify(result.problems)).toBeDefined()
    // Soft: report this and still check the restores below.
    expect.soft(problem!.snapshots, JSON.stringify(result.problems)).toEqual([snapshot.id])

    await expectRestoreFails(dir, 'app-db', snapshot.id, /damaged|does not match/)
    await expectRestores(dir, 'other-db', 0)
    await expectRestores(dir, 'other-db', 1)
  })

  it('a flipped byte in an index file: verify names it; only snapshots whose data it alone knew fail', async () => {
    const { dir, repo } = await copyRepository()
    const pack = appOnlyPack()
    const indexKey = fixture.indexOf.get(pack)!
    const size = (await readFile(join(repo, indexKey))).length
    await flipByte(join(repo, indexKey), Math.floor(size / 2))
    const lost = new Set([...fixture.indexOf].filter(([, key]) => key === indexKey).map(([p]) => p))
    const affected = needing((b) => lost.has(b.pack))

    const { code, result } = await verifyJson(dir, true)
    expect(code, JSON.stringify(result.problems)).toBe(1)
    expect(
      result.problems.map((p) => p.object),
      JSON.stringify(result.problems),
    ).toContain(indexKey)
    const named = [...new Set(result.problems.flatMap((p) => p.snapshots))].sort()
    expect(named, JSON.stringify(result.problems)).toEqual(affected)

    for (const name of resources) {
      for (const [i, { snapshot }] of fixture.snapshots[name].entries()) {
        if (affected.includes(snapshot.id)) await expectRestoreFails(dir, name, snapshot.id, /missing|index/)
        else await expectRestores(dir, name, i)
      }
    }
    expect(affected.length).toBeGreaterThan(0)
    expect(affected.length).toBeLessThan(allSnapshots().length)
  })

  it('a flipped byte in a snapshot manifest: verify names it; other snapshots still restore', async () => {
    const { dir, repo } = await copyRepository()
    const { snapshot } = fixture.snapshots['app-db'][0]!
    const key = keys.snapshot('app-db', snapshot.id)
    const size = (await readFile(join(repo, key))).length
    await flipByte(join(repo, key), Math.floor(size / 2))

    const { code, result } = await verifyJson(dir, true)
    expect(code, JSON.stringify(result.problems)).toBe(1)
    expect(result.problems, JSON.stringify(result.problems)).toEqual([
      expect.objectContaining({ object: key, snapshots: [snapshot.id] }),
    ])

    await expectRestoreFails(dir, 'app-db', snapshot.id, /snapshot .* damaged|does not match/)
    await expectRestores(dir, 'other-db', 0)
    await expectRestores(dir, 'other-db', 1)
    // app-db's second snapshot does not depend on the first one's manifest.
    await expectRestores(dir, 'app-db', 1)
  })

  it('a deleted pack: plain verify and --read-data name it missing; affected restores fail cleanly', async () => {
    const { dir, repo } = await copyRepository()
    const pack = appOnlyPack()
    await unlink(join(repo, keys.pack(pack)))
    const affected = needing((b) => b.pack === pack)

    for (const readData of [false, true]) {
      const { code, result } = await verifyJson(dir, readData)
      expect(code, `read-data ${readData}: ${JSON.stringify(result.problems)}`).toBe(1)
      const problem = result.problems.find((p) => p.object === keys.pack(pack))
      expect(problem, JSON.stringify(result.problems)).toBeDefined()
      expect(problem!.problem).toMatch(/missing/)
      // Soft: report this and still check the restores below.
      expect.soft([...problem!.snapshots].sort(), JSON.stringify(result.problems)).toEqual(affected)
    }
    const plain = await runCli(['verify'], { cwd: dir })
    expect(plain.code).toBe(1)
    expect(plain.stdout).toContain(keys.pack(pack))

    for (const id of affected) await expectRestoreFails(dir, 'app-db', id, /missing/)
    await expectRestores(dir, 'other-db', 0)
    await expectRestores(dir, 'other-db', 1)
  })

  it('a truncated pack: verify (plain and --read-data) names it; affected restores fail cleanly', async () => {
    const { dir, repo } = await copyRepository()
    const pack = appOnlyPack()
    const file = join(repo, keys.pack(pack))
    const half = Math.floor((await readFile(file)).length / 2)
    await truncate(file, half)
    const affected = needing((b) => b.pack === pack && b.offset + b.length > half)
    expect(affected.length).toBeGreaterThan(0)

    for (const readData of [false, true]) {
      const { code, result } = await verifyJson(dir, readData)
      expect(code, `read-data ${readData}: ${JSON.stringify(result.problems)}`).toBe(1)
      const problem = result.problems.find((p) => p.object === keys.pack(pack))
      expect(problem, JSON.stringify(result.problems)).toBeDefined()
      // Soft: report this and still check the restores below.
      expect.soft([...problem!.snapshots].sort(), JSON.stringify(result.problems)).toEqual(affected)
    }

    for (const id of affected) await expectRestoreFails(dir, 'app-db', id, /truncated|damaged/)
    await expectRestores(dir, 'other-db', 0)
    await expectRestores(dir, 'other-db', 1)
  })
})
