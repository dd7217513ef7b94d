/**
 * The files source end to end on real trees in temp dirs: round trip (nested and empty
 * directories, an empty and a 20 MiB file, unicode names, symlinks in and out of the tree,
 * modes, mtimes), exclude patterns, dedup across snapshots, partial restores by path
 * pattern, refusal of a non-empty target, and crafted listings that try to write outside.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { IntegrityError } from '../../src/errors.js'
import { backup } from '../../src/ops/backup.js'
import { createRepository, type OpsContext, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import type { StoredImage } from '../../src/sources/index.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

const big = randomBytes(20 * 1024 * 1024)
const mtime = new Date('2024-03-01T12:34:56.789Z')

function filesPlan(exclude?: string[]): string {
  const ex = exclude ? `    exclude: ${JSON.stringify(exclude)}\n` : ''
  return `repository: ./repo\nresources:\n  uploads:\n    type: files\n    path: ./data/uploads\n${ex}`
}

async function openFilesRepo(dir: string, exclude?: string[]): Promise<OpsContext> {
  const config = join(dir, 'drkit.yaml')
  await writeFile(config, filesPlan(exclude))
  const ctx = await openContext({ config })
  await (await createRepository(ctx.plan)).close()
  return ctx
}

/** The test tree under dir/data/uploads, with a file outside it that a symlink points to. */
async function makeTree(dir: string): Promise<string> {
  const root = join(dir, 'data', 'uploads')
  await mkdir(join(root, 'a', 'b', 'c'), { recursive: true })
  await mkdir(join(root, 'empty', 'deeper'), { recursive: true })
  await mkdir(join(root, 'héllo wörld'))
  await writeFile(join(dir, 'outside.txt'), 'secret outside the tree')
  await writeFile(join(root, 'a', 'b', 'c', 'deep.txt'), 'deep')
  await writeFile(join(root, 'a', 'zero'), '')
  await writeFile(join(root, 'big.bin'), big)
  await writeFile(join(root, 'héllo wörld', '日本語.txt'), 'こんにちは')
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\n', { mode: 0o750 })
  await writeFile(join(root, 'private.txt'), 'mine', { mode: 0o600 })
  await symlink('a/b/c/deep.txt', join(root, 'inside-link'))
  await symlink('../../outside.txt', join(root, 'outside-link'))
  await utimes(join(root, 'a', 'b', 'c', 'deep.txt'), mtime, mtime)
  await utimes(join(root, 'empty'), mtime, mtime)
  return root
}

interface Listed {
  type: string
  mode: number
  mtimeUs: number
  size: number
  link?: string
}

/** Every entry under root with its metadata, mtimes to the microsecond. */
async function list(root: string, rel = ''): Promise<Record<string, Listed>> {
  const out: Record<string, Listed> = {}
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name
    const st = await lstat(join(root, path), { bigint: true })
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file'
    out[path] = { type, mode: Number(st.mode & 0o7777n), mtimeUs: Number(st.mtimeNs / 1000n), size: 0 }
    if (type === 'file') out[path].size = Number(st.size)
    if (type === 'symlink') out[path].link = await readlink(join(root, path))
    if (type === 'dir') Object.assign(out, await list(root, path))
  }
  return out
}

/**
 * Listings equal, mtimes within 2 µs: Node sets times from a double of seconds, which near
 * the present resolves about a quarter of a microsecond and is truncated when set.
 */
function expectSameListing(actual: Record<string, Listed>, expected: Record<string, Listed>): void {
  const withoutTimes = (l: Record<string, Listed>) =>
    Object.fromEntries(Object.entries(l).map(([p, { mtimeUs, ...rest }]) => [p, rest]))
  expect(withoutTimes(actual)).toEqual(withoutTimes(expected))
  for (const [path, entry] of Object.entries(expected)) {
    expect(Math.abs(actual[path]!.mtimeUs - entry.mtimeUs), `mtime of ${path}`).toBeLessThanOrEqual(2)
  }
}

async function fingerprints(ctx: OpsContext, target: string) {
  const source = await ctx.openSource('uploads')
  try {
    return { source: await source.fingerprint('source'), target: await source.fingerprint({ target }) }
  } finally {
    await source.close()
  }
}

describe('files source', () => {
  test('round trip keeps contents, modes, mtimes, symlinks and empty directories', async () => {
    const dir = await tempDir('drkit-files-')
    const root = await makeTree(dir)
    const ctx = await openFilesRepo(dir)
    try {
      const { snapshot } = await backup(ctx, 'uploads')
      expect(snapshot.details).toMatchObject({ files: 6, dirs: 6, symlinks: 2, changedFiles: 0 })
      expect(snapshot.streams[0]?.name).toBe('tree')
      // The outside file is not read through the link.
      expect(snapshot.streams.some((s) => s.name.includes('outside'))).toBe(false)
      const target = join(dir, 'restored')
      const result = await restore(ctx, { resource: 'uploads', target })
      expect(result.bytes).toBe(big.length + 4 + 15 + 10 + 4)
      expectSameListing(await list(target), await list(root))
      expect((await lstat(join(target, 'outside-link'))).isSymbolicLink()).toBe(true)
      expect((await readFile(join(target, 'big.bin'))).equals(big)).toBe(true)
      const fp = await fingerprints(ctx, target)
      expect(fp.target).toEqual(fp.source)
      expect(Object.keys(fp.source.tables)).toContain('héllo wörld')
    } finally {
      await ctx.close()
    }
  })

  test('exclude patterns leave out matching files and directory contents', async () => {
    const dir = await tempDir('drkit-files-')
    const root = join(dir, 'data', 'uploads')
    await mkdir(join(root, 'cache', 'x'), { recursive: true })
    await mkdir(join(root, 'sub'), { recursive: true })
    for (const f of ['keep.txt', 'a.tmp', 'sub/b.tmp', 'sub/keep.md', 'cache/x/c.bin', 'cache/d.bin']) {
      await writeFile(join(root, f), f)
    }
    const ctx = await openFilesRepo(dir, ['*.tmp', 'cache/**'])
    try {
      await backup(ctx, 'uploads')
      const target = join(dir, 'restored')
      await restore(ctx, { resource: 'uploads', target })
      expect(Object.keys(await list(target))).toEqual(['cache', 'keep.txt', 'sub', 'sub/keep.md'])
      const fp = await fingerprints(ctx, target)
      expect(fp.target).toEqual(fp.source)
    } finally {
      await ctx.close()
    }
  })

  test('an insertion in a large file stores little; unchanged files store nothing', async () => {
    const dir = await tempDir('drkit-files-')
    const root = await makeTree(dir)
    const ctx = await openFilesRepo(dir)
    try {
      const first = (await backup(ctx, 'uploads')).snapshot
      expect(first.stats.newBytes).toBeGreaterThan(big.length)
      const same = (await backup(ctx, 'uploads')).snapshot
      expect(same.stats.newBytes).toBe(0)
      await writeFile(join(root, 'big.bin'), Buffer.concat([Buffer.from('inserted!'), big]))
      const second = (await backup(ctx, 'uploads')).snapshot
      expect(second.stats.newBytes).toBeLessThan(4 * 1024 * 1024)
      // Each snapshot restores to its own contents.
      const old = join(dir, 'old')
      await restore(ctx, { resource: 'uploads', target: old, snapshot: first.id })
      expect((await readFile(join(old, 'big.bin'))).equals(big)).toBe(true)
      const now = join(dir, 'now')
      await restore(ctx, { resource: 'uploads', target: now, snapshot: second.id })
      expect((await readFile(join(now, 'big.bin'))).subarray(0, 9).toString()).toBe('inserted!')
    } finally {
      await ctx.close()
    }
  })

  test('path patterns restore only the matching entries and their parents', async () => {
    const dir = await tempDir('drkit-files-')
    await makeTree(dir)
    const ctx = await openFilesRepo(dir)
    try {
      await backup(ctx, 'uploads')
      const target = join(dir, 'part')
      const result = await restore(ctx, { resource: 'uploads', target, paths: ['a/b/**', '*.txt'] })
      expect(Object.keys(await list(target))).toEqual([
        'a',
        'a/b',
        'a/b/c',
        'a/b/c/deep.txt',
        'héllo wörld',
        'héllo wörld/日本語.txt',
        'private.txt',
      ])
      expect(result.counts).toEqual({ files: 3, directories: 4, links: 0 })
      await expect(
        restore(ctx, { resource: 'uploads', target: join(dir, 'none'), paths: ['nope/**'] }),
      ).rejects.toThrow(/no path in the snapshot matches/)
    } finally {
      await ctx.close()
    }
  })

  test('a file that changes while it is read is reported, not hidden', async () => {
    const dir = await tempDir('drkit-files-')
    const root = await makeTree(dir)
    const ctx = await openFilesRepo(dir)
    const source = await ctx.openSource('uploads')
    try {
      const image = await source.snapshot()
      for await (const stream of image.streams) {
        if (stream.name === 'file:big.bin') await writeFile(join(root, 'big.bin'), 'shrunk')
        if ('data' in stream) for await (const _ of stream.data);
      }
      expect(image.details).toMatchObject({ changedFiles: 1, changedPaths: '["big.bin"]' })
    } finally {
      await source.close()
      await ctx.close()
    }
  })
  describe('a crafted listing cannot write outside the target', () => {
    const header = { drkitTree: 1, mode: 0o755, mtimeNs: '0' }
    const entry = (path: string, type = 'file', extra = {}) => ({
      path,
      type,
      mode: 0o644,
      mtimeNs: '0',
      size: 3,
      ...extra,
    })
    const cases: [string, object[]][] = [
      ['a ".." segment', [entry('../escape')]],
      ['a nested ".." segment', [entry('d', 'dir'), entry('d/../../escape')]],
      ['an absolute path', [entry('/tmp/drkit-escape')]],
      ['a file through a symlink', [entry('l', 'symlink', { target: '..', size: 0 }), entry('l/escape')]],
      ['a file through a file', [entry('f'), entry('f/escape')]],
      ['a path listed twice', [entry('dup', 'dir'), entry('dup')]],
    ]
    for (const [name, entries] of cases) {
      test(name, async () => {
        const dir = await tempDir('drkit-files-')
        await mkdir(join(dir, 'data', 'uploads'), { recursive: true })
        const ctx = await openFilesRepo(dir)
        const source = await ctx.openSource('uploads')
        try {
          const lines = [header, ...entries].map((e) => `${JSON.stringify(e)}\n`).join('')
          const image: StoredImage = {
            details: {},
            streams: (async function* () {
              yield {
                name: 'tree',
                data: (async function* () {
                  yield Buffer.from(lines)
                })(),
              }
              for (const e of entries as { path: string; type: string }[]) {
                if (e.type === 'file')
                  yield {
                    name: `file:${e.path}`,
                    data: (async function* () {
                      yield Buffer.from('pwn')
                    })(),
                  }
              }
            })(),
          }
          const target = join(dir, 'out', 'target')
          await expect(source.restore(image, target)).rejects.toThrow(IntegrityError)
          // Nothing at all was written: no target, no escape beside it or at the root.
          expect(await readdir(dir)).toEqual(['data', 'drkit.yaml', 'repo'])
          await expect(lstat('/tmp/drkit-escape')).rejects.toThrow()
        } finally {
          await source.close()
          await ctx.close()
        }
      })
    }
  })

  // `npm test` builds before the tests. Building here rewrote dist/ while other test files ran
  // the built command line, which then failed now and then to load a half-written module.
  describe('through the built command line', () => {
    test('backup, restore, and refusal of a non-empty target', async () => {
      const dir = await tempDir('drkit-files-cli-')
      await makeTree(dir)
      await (await openFilesRepo(dir)).close()
      const backed = await runCli(['backup', 'uploads', '--json'], { cwd: dir })
      expect(backed.code, backed.stderr).toBe(0)
      await mkdir(join(dir, 'busy'))
      await writeFile(join(dir, 'busy', 'keep.txt'), 'do not touch')
      const refused = await runCli(['restore', 'uploads', '--to', 'busy', '--json'], { cwd: dir })
      expect(refused.code).toBe(1)
      expect(refused.json<{ error: { code: string } }>().error.code).toBe('refused')
      expect(await readFile(join(dir, 'busy', 'keep.txt'), 'utf8')).toBe('do not touch')
      const forced = await runCli(['restore', 'uploads', '--to', 'busy', '--force', '--json'], { cwd: dir })
      expect(forced.code, forced.stderr).toBe(0)
      expectSameListing(await list(join(dir, 'busy')), await list(join(dir, 'data', 'uploads')))
      const wrong = await runCli(['restore', 'uploads', '--to', 'part', '--tables', 'empty'], { cwd: dir })
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toContain('uploads (type files) restores part of itself by --paths, not --tables')
      const part = await runCli(['restore', 'uploads', '--to', 'part', '--paths', 'empty', '--json'], { cwd: dir })
      expect(part.code, part.stderr).toBe(0)
      expect(part.json<{ counts: unknown; paths: string[] }>()).toMatchObject({
        counts: { files: 0, directories: 2, links: 0 },
        paths: ['empty'],
      })
      expect(Object.keys(await list(join(dir, 'part')))).toEqual(['empty', 'empty/deeper'])
    })
  })
})
