/**
 * Every source end to end on the S3 backend, through the built CLI against s3rver: a
 * SQLite database with capture (snapshot, shipped changes, a bookmark, a restore to it),
 * a Redis database and a directory of files, all in one plan and one repository. The
 * same flows run on the fs backend in each source's own test file.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { contextFromPlan } from '../../src/ops/context.js'
import { runCli } from '../support/cli.js'
import { loadTestPlan } from '../support/fault-context.js'
import { redisUrl, seedEveryType, testDb } from '../support/redis.js'
import { type S3Server, startS3Server } from '../support/s3.js'
import { tempDir } from '../support/tmp.js'

// Redis databases 5 and 6 are this file's own (see test/support/redis.ts).
const liveDb = 5
const targetDb = 6

let server: S3Server
beforeAll(async () => {
  server = await startS3Server()
})
afterAll(() => server?.stop())

describe('every source on s3', () => {
  it('sqlite with capture, redis and files back up and restore exactly', { timeout: 120_000 }, async () => {
    const dir = await tempDir('drkit-s3-sources-')
    const url = `s3://${server.bucket}/sources/${randomUUID()}`
    await writeFile(
      join(dir, 'drkit.yaml'),
      `repository: ${url}\nresources:\n` +
        '  app-db:\n    type: sqlite\n    path: ./app.db\n    capture: { interval: 200ms }\n' +
        `  cache:\n    type: redis\n    url: ${redisUrl(liveDb)}\n` +
        '  uploads:\n    type: files\n    path: ./uploads\n',
    )
    const app = new Database(join(dir, 'app.db'))
    app.pragma('journal_mode = WAL')
    app.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    const insert = app.prepare('INSERT INTO notes (body) VALUES (?)')
    for (let i = 0; i < 100; i++) insert.run(`note ${i}`)
    const live = await testDb(liveDb)
    await testDb(targetDb)
    await seedEveryType(live)
    await mkdir(join(dir, 'uploads', 'docs'), { recursive: true })
    await writeFile(join(dir, 'uploads', 'docs', 'a.txt'), 'alpha\n'.repeat(1000))
    await writeFile(join(dir, 'uploads', 'b.bin'), Buffer.alloc(300_000, 7))

    const drkit = async (...args: string[]) => {
      const run = await runCli(args, { cwd: dir, env: server.env })
      if (run.code !== 0) throw new Error(`drkit ${args.join(' ')} exited ${run.code}:\n${run.stderr}`)
      return run
    }
    await drkit('init')
    await drkit('backup')
    for (let i = 100; i < 150; i++) insert.run(`note ${i}`)
    await drkit('bookmark', 'app-db', 'before-cleanup')
    app.exec("DELETE FROM notes WHERE id % 2 = 0; UPDATE notes SET body = 'changed'")
    await drkit('agent', '--once')

    await drkit('restore', 'app-db', '--to', './at-bookmark.db', '--bookmark', 'before-cleanup')
    await drkit('restore', 'app-db', '--to', './latest.db')
    await drkit('restore', 'cache', '--to', redisUrl(targetDb))
    await drkit('restore', 'uploads', '--to', './uploads-restored')
    const verified = (await drkit('verify', '--read-data', '--json')).json<{ ok: boolean; snapshots: number }>()
    // Three backups, and the snapshot that begins app-db's capture generation (the bookmark installs capture).
    expect(verified).toMatchObject({ ok: true, snapshots: 4 })

    const rows = (file: string) =>
      new Database(join(dir, file), { readonly: true }).prepare('SELECT * FROM notes').all()
    expect(rows('at-bookmark.db')).toHaveLength(150)
    expect(rows('at-bookmark.db')).toContainEqual({ id: 150, body: 'note 149' })
    expect(rows('latest.db')).toEqual(app.prepare('SELECT * FROM notes').all())

    const ctx = contextFromPlan(await loadTestPlan(join(dir, 'drkit.yaml')))
    try {
      for (const [resource, target] of [
        ['cache', redisUrl(targetDb)],
        ['uploads', join(dir, 'uploads-restored')],
      ] as const) {
        const source = await ctx.openSource(resource)
        try {
          expect(await source.fingerprint({ target })).toEqual(await source.fingerprint('source'))
        } finally {
          await source.close()
        }
      }
    } finally {
      await ctx.close()
      app.close()
    }
  })
})
