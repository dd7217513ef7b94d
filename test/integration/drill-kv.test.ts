/**
 * Drills on Redis and files through the built CLI: kv-restore and restore-test on a spare
 * Redis database and a scratch directory, and a kind the type cannot do. Redis databases
 * 8 and 9 are this file's own (the Redis tests use 11-15).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { redisUrl } from '../support/redis.js'
import { tempDir } from '../support/tmp.js'
import { drill, ok, stepSummary } from './drill-support.js'

const liveDb = 8
const scratchDb = 9

async function client(db: number): Promise<Redis> {
  const c = new Redis({ host: '127.0.0.1', port: 6379, db, lazyConnect: true })
  await c.connect()
  await c.flushdb()
  onTestFinished(async () => {
    await c.flushdb()
    await c.quit()
  })
  return c
}

describe('drills on Redis and files', () => {
  it('kv-restore wipes the scratch database, restores it and measures what the live one has since', async () => {
    const live = await client(liveDb)
    const scratch = await client(scratchDb)
    await live.set('user:1', 'ann')
    await live.hset('cart:1', { apples: '3' })
    await live.rpush('queue', 'a', 'b')
    const dir = await tempDir('drkit-drill-kv-')
    await writeFile(
      join(dir, 'drkit.yaml'),
      `repository: ./repo\nresources:\n  cache:\n    type: redis\n    url: ${redisUrl(liveDb)}\n` +
        '    objectives: { rpo: 24h, rto: 5m }\ndrills:\n' +
        `  - { name: cache-restore, resource: cache, kind: kv-restore, scratch: "${redisUrl(scratchDb)}" }\n` +
        `  - { name: cache-test, resource: cache, kind: restore-test, scratch: "${redisUrl(scratchDb)}" }\n` +
        '  - { name: cache-pitr, resource: cache, kind: pitr }\n',
    )
    await ok(dir, 'init')
    await ok(dir, 'backup', 'cache')
    await live.set('user:2', 'bob')

    const { code, doc } = await drill(dir, 'cache-restore')
    expect(code).toBe(0)
    const report = doc.reports[0]!
    expect(stepSummary(report)).toEqual([
      'restore ok',
      'verify ok',
      'fault ok',
      'restore ok',
      'verify ok',
      'compare ok',
    ])
    expect(report.environment.targets).toEqual({ cache: redisUrl(scratchDb) })
    // One key written after the snapshot: lost, estimated from the fingerprints.
    expect(report.rpo).toMatchObject({ changesLost: 1, exact: false, met: true })
    expect(report.rto.actualMs).toBeGreaterThan(0)
    expect(await scratch.dbsize()).toBe(0)

    const test = await drill(dir, 'cache-test')
    expect(test.code).toBe(0)
    expect(stepSummary(test.doc.reports[0]!)).toEqual(['restore ok', 'verify ok', 'compare ok'])

    const pitr = await drill(dir, 'cache-pitr')
    expect(pitr.code).toBe(2)
    expect(pitr.run.json<{ error: { message: string } }>().error.message).toBe(
      'drill "cache-pitr": a pitr drill needs a resource that captures row changes, and cache is of type redis',
    )
  })

  it('kv-restore and restore-test on a directory tree', async () => {
    const dir = await tempDir('drkit-drill-files-')
    await mkdir(join(dir, 'uploads', 'a'), { recursive: true })
    await writeFile(join(dir, 'uploads', 'a', 'one.txt'), 'one')
    await writeFile(join(dir, 'uploads', 'two.txt'), 'two')
    await writeFile(
      join(dir, 'drkit.yaml'),
      'repository: ./repo\nresources:\n  uploads:\n    type: files\n    path: ./uploads\n' +
        '    objectives: { rto: 5m }\ndrills:\n' +
        '  - { name: uploads-restore, resource: uploads, kind: kv-restore }\n' +
        '  - { name: uploads-test, resource: uploads, kind: restore-test, objectives: { rpo: 1h } }\n',
    )
    await ok(dir, 'init')
    await ok(dir, 'backup', 'uploads')
    const { code, doc } = await drill(dir, '--all')
    expect(code).toBe(0)
    const [kv, test] = doc.reports
    expect(stepSummary(kv!)).toEqual(['restore ok', 'verify ok', 'fault ok', 'restore ok', 'verify ok', 'compare ok'])
    expect(kv!.rpo).toMatchObject({ changesLost: 0, actualMs: 0 })
    expect(test!.rpo).toMatchObject({ targetMs: 3_600_000, changesLost: 0, met: true })
    expect(test!.rto).toMatchObject({ targetMs: 300_000, met: true })
  })
})
