/**
 * Incremental files snapshots: a file whose size, mtime, ctime and inode are unchanged since
 * the previous snapshot is referenced, not read; everything else is read, and every snapshot
 * restores to exactly the tree it was taken of. `readAll` trusts nothing.
 */
import { randomBytes } from 'node:crypto'
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { createRepository, type OpsContext, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { tempDir } from '../support/tmp.js'

async function setUp(): Promise<{ dir: string; root: string; ctx: OpsContext }> {
  const dir = await tempDir('drkit-files-incr-')
  const root = join(dir, 'tree')
  await mkdir(join(root, 'sub'), { recursive: true })
  await writeFile(join(root, 'a.txt'), 'first version')
  await writeFile(join(root, 'big.bin'), randomBytes(3 * 1024 * 1024))
  await writeFile(join(root, 'sub', 'c.txt'), 'unchanged')
  await writeFile(join(root, 'sub', 'd.txt'), 'to be replaced')
  const config = join(dir, 'drkit.yaml')
  await writeFile(config, 'repository: ./repo\nresources:\n  uploads:\n    type: files\n    path: ./tree\n')
  const ctx = await openContext({ config })
  await (await createRepository(ctx.plan)).close()
  return { dir, root, ctx }
}

async function contents(root: string, paths: string[]): Promise<string[]> {
  return Promise.all(paths.map(async (p) => (await readFile(join(root, p))).toString('base64')))
}

const paths = ['a.txt', 'big.bin', 'sub/c.txt', 'sub/d.txt']

test('a second snapshot reads only the files that changed, and both restore exactly', async () => {
  const { dir, root, ctx } = await setUp()
  try {
    const first = (await backup(ctx, 'uploads')).snapshot
    expect(first.details).toMatchObject({ files: 4, reusedFiles: 0 })
    const before = await contents(root, paths)

    await writeFile(join(root, 'a.txt'), 'second version, longer')
    await appendFile(join(root, 'big.bin'), 'appended')
    // Same name and size, but a new inode (written beside, then renamed over).
    await writeFile(join(root, 'sub', 'd.new'), 'to be REPLACED')
    await rename(join(root, 'sub', 'd.new'), join(root, 'sub', 'd.txt'))
    const second = (await backup(ctx, 'uploads')).snapshot
    expect(second.details).toMatchObject({ files: 4, reusedFiles: 1, parent: first.id })
    const reused = second.streams.find((s) => s.name === 'file:sub/c.txt')
    expect(reused).toEqual(first.streams.find((s) => s.name === 'file:sub/c.txt'))

    const third = (await backup(ctx, 'uploads')).snapshot
    expect(third.details).toMatchObject({ reusedFiles: 4, parent: second.id })
    expect(third.stats.newChunks).toBe(0)

    await restore(ctx, { resource: 'uploads', target: join(dir, 'r1'), snapshot: first.id })
    expect(await contents(join(dir, 'r1'), paths)).toEqual(before)
    await restore(ctx, { resource: 'uploads', target: join(dir, 'r3'), snapshot: third.id })
    expect(await contents(join(dir, 'r3'), paths)).toEqual(await contents(root, paths))
  } finally {
    await ctx.close()
  }
})

test('readAll reads every file again', async () => {
  const { ctx } = await setUp()
  try {
    await backup(ctx, 'uploads')
    const { snapshot } = await backup(ctx, 'uploads', { readAll: true })
    expect(snapshot.details.reusedFiles).toBe(0)
    expect(snapshot.details.parent).toBeUndefined()
  } finally {
    await ctx.close()
  }
})
