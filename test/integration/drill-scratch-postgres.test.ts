/**
 * The PostgreSQL scratch target against the real server at 127.0.0.1:5432: a new database
 * name per copy (the restore creates it), SQL on it, emptied by a wipe, and dropped, slots
 * and all, by clean-up.
 */
import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { scratchFactory } from '../../src/ops/scratch/index.js'
import type { Resource } from '../../src/plan/index.js'

const server = 'postgres://postgres@127.0.0.1:5432'
const resource: Resource = { name: 'main', type: 'postgres', config: { url: `${server}/test` }, objectives: {} }

async function onServer<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${server}/postgres` })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

const exists = (name: string) =>
  onServer(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1)

describe('PostgreSQL scratch targets', () => {
  it('name a new database, run SQL on it once restored, and drop it', async () => {
    const factory = scratchFactory(resource)
    expect(factory.sql).toBe(true)
    const target = await factory.create(resource, {
      dir: '/unused',
      label: 'Main DB',
      baseDir: '/',
      resources: [resource],
    })
    const name = new URL(target.target).pathname.slice(1)
    onTestFinished(() => target.remove())
    expect(name).toMatch(/^drkit_scratch_main_db_[0-9a-f]{8}$/)
    expect(target.config).toEqual({ url: target.target })
    expect(await exists(name)).toBe(false)

    // What a restore does first.
    await onServer((c) => c.query(`CREATE DATABASE ${name}`))
    await target.query!('CREATE TABLE t (id int)')
    await target.query!('INSERT INTO t VALUES (1), (2)')
    expect(await target.query!('SELECT count(*)::int FROM t')).toBe(2)
    expect(await target.query!('SELECT id FROM t WHERE id > 5')).toBeUndefined()

    // A wipe empties the application's tables; the database stays usable.
    await target.wipe()
    expect(await target.query!('SELECT count(*)::int FROM t')).toBe(0)
    await target.remove()
    expect(await exists(name)).toBe(false)
  })

  it('leave a staging database alone on clean-up', async () => {
    const staging = await scratchFactory(resource).existing(resource, '/')
    expect(staging.target).toBe(`${server}/test`)
    await staging.remove()
    expect(await exists('test')).toBe(true)
  })
})
