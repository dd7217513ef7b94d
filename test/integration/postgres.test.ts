/**
 * The PostgreSQL source against the real server (127.0.0.1:5432), through the built CLI:
 * snapshots and restores of every common type, restores into new or existing databases,
 * partial restores, and bad input. Every database is a throwaway drkit_t_<random>.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import {
  fingerprintOf,
  pgClient,
  pgUrl,
  testDatabase,
  throwawayName,
  typeMatrixRows,
  typeMatrixSchema,
  writePgPlan,
} from '../support/postgres.js'
import { tempDir } from '../support/tmp.js'

async function drkit(dir: string, ...args: string[]) {
  return runCli(args, { cwd: dir, env: { DRKIT_PASSWORD: 'test-passphrase' } })
}

async function ok(dir: string, ...args: string[]) {
  const run = await drkit(dir, ...args)
  if (run.code !== 0) throw new Error(`drkit ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`)
  return run
}

async function setup(url: string) {
  const dir = await tempDir()
  await writePgPlan(dir, url)
  await ok(dir, 'init')
  return dir
}

describe('postgres source', () => {
  test('every common type survives backup and restore exactly, with schema objects and sequence values', async () => {
    const src = await testDatabase()
    await src.client.query(typeMatrixSchema)
    await src.client.query(typeMatrixRows(1))
    const dir = await setup(src.url)
    const backup = (await ok(dir, 'backup', 'main', '--json')).json<{ snapshots: { tables: unknown[] }[] }>()
    expect(backup.snapshots[0]!.tables).toContainEqual({ name: 'serials', rows: 50 })
    expect(backup.snapshots[0]!.tables).toContainEqual({ name: 'orders_eu', rows: 1 })

    const target = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(target), '--json')
    const before = await fingerprintOf(src.name)
    expect(await fingerprintOf(target)).toEqual(before)
    expect(before.tables.everything!.rows).toBe(3)

    const dst = await pgClient(target)
    try {
      // Sequences continue where the source's were; views, triggers and generated columns exist.
      const next = await dst.query("INSERT INTO serials (name) VALUES ('new') RETURNING id")
      expect(next.rows[0].id).toBe(51)
      const ident = await dst.query('INSERT INTO everything (huge) VALUES (21) RETURNING id, halved')
      expect(ident.rows[0]).toEqual({ id: '4', halved: '10' })
      expect((await dst.query('SELECT count(*)::int AS n FROM happy')).rows[0].n).toBe(1)
      const big = await dst.query("SELECT big::text, raw, label FROM everything WHERE label LIKE 'first%'")
      expect(big.rows[0].big).toBe('123456789012345678901234567890.123456789012345678901234567891')
      expect(Buffer.from(big.rows[0].raw).equals(Buffer.from([0, 0xff, 0x10]))).toBe(true)
      const empty = await dst.query("SELECT count(*)::int AS n FROM everything WHERE label = ''")
      expect(empty.rows[0].n).toBe(1)
    } finally {
      await dst.end()
    }
  })

  test('a table larger than one part is read and loaded in parallel parts, exactly and in a stable order', async () => {
    const src = await testDatabase()
    // About 40 MB of heap: several 8 MiB page ranges at snapshot, several blocks at restore;
    // values hold newlines and tabs, which COPY escapes, so blocks cut only between rows.
    await src.client.query(`CREATE TABLE big (id int PRIMARY KEY, body text NOT NULL);
      INSERT INTO big SELECT g, E'a\\nb\\tc ' || repeat(md5(g::text), 8) FROM generate_series(1, 120000) g;
      DELETE FROM big WHERE id % 7 = 0;`)
    const dir = await setup(src.url)
    type Backup = { snapshots: { tables: unknown[]; size: number; newBytes: number }[] }
    const first = (await ok(dir, 'backup', 'main', '--json')).json<Backup>()
    expect(first.snapshots[0]!.tables).toContainEqual({ name: 'big', rows: 120000 - Math.floor(120000 / 7) })
    // The parts concatenate to the same bytes every time: an unchanged table deduplicates.
    const second = (await ok(dir, 'backup', 'main', '--json')).json<Backup>()
    expect(second.snapshots[0]!.size).toBe(first.snapshots[0]!.size)
    expect(second.snapshots[0]!.newBytes).toBeLessThan(first.snapshots[0]!.size / 100)

    const target = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(target))
    expect(await fingerprintOf(target)).toEqual(await fingerprintOf(src.name))
    const dst = await pgClient(target)
    try {
      const row = await dst.query('SELECT body FROM big WHERE id = 1')
      expect(row.rows[0].body.startsWith('a\nb\tc ')).toBe(true)
    } finally {
      await dst.end()
    }
  })

  test('a non-empty target is refused without --force and replaced with it', async () => {
    const src = await testDatabase()
    await src.client.query(typeMatrixSchema)
    await src.client.query(typeMatrixRows(1))
    const dir = await setup(src.url)
    await ok(dir, 'backup', 'main')
    const target = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(target))
    const refused = await drkit(dir, 'restore', 'main', '--to', pgUrl(target), '--json')
    expect(refused.code).toBe(1)
    expect(refused.json<{ error: { message: string } }>().error.message).toMatch(/exists and is not empty/)

    await src.client.query("UPDATE serials SET name = name || '!' WHERE id = 1")
    await ok(dir, 'backup', 'main')
    await ok(dir, 'restore', 'main', '--to', pgUrl(target), '--force')
    expect(await fingerprintOf(target)).toEqual(await fingerprintOf(src.name))
  })

  test('restore --format sql writes a file that psql loads into a fresh database, equal to the source', async () => {
    const src = await testDatabase()
    await src.client.query(typeMatrixSchema)
    await src.client.query(typeMatrixRows(2))
    const dir = await setup(src.url)
    await ok(dir, 'backup', 'main')
    const run = await ok(dir, 'restore', 'main', '--to', 'out/main.sql', '--format', 'sql', '--json')
    const file = join(dir, 'out/main.sql')
    expect(run.json<{ target: string; bytes: number }>()).toMatchObject({ target: file })
    const fresh = await testDatabase()
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', fresh.url, '-f', file])
    expect(await fingerprintOf(fresh.name)).toEqual(await fingerprintOf(src.name))
    const again = await drkit(dir, 'restore', 'main', '--to', 'out/main.sql', '--format', 'sql')
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists/)
    const path = await drkit(dir, 'restore', 'main', '--to', 'restored')
    expect(path.code).toBe(2)
    expect(path.stderr).toMatch(/not a PostgreSQL URL/)
  })

  test('partial restore by table and by tenant', async () => {
    const src = await testDatabase()
    await src.client.query(`
      CREATE TABLE tenants (tenant text PRIMARY KEY);
      CREATE TABLE items (id serial PRIMARY KEY, tenant text REFERENCES tenants, name text);
      CREATE TABLE audit (id serial PRIMARY KEY, note text);
      INSERT INTO tenants VALUES ('acme'), ('globex');
      INSERT INTO items (tenant, name) SELECT CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'globex' END, 'item ' || g
        FROM generate_series(1, 20) g;
      INSERT INTO audit (note) VALUES ('a'), ('b');`)
    const dir = await setup(src.url)
    await ok(dir, 'backup', 'main')
    const part = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(part), '--tables', 'tenants,items', '--where', "tenant = 'acme'")
    const got = await fingerprintOf(part)
    expect(Object.keys(got.tables).sort()).toEqual(['(schema)', 'items', 'tenants'])
    expect(got.tables.items!.rows).toBe(10)
    expect(got.tables.tenants!.rows).toBe(1)
    const bad = await drkit(dir, 'restore', 'main', '--to', pgUrl(throwawayName()), '--tables', 'nope')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/no table nope/)
  })

  test('bad input: unreachable server, unknown database, restore onto the source itself', async () => {
    const dir = await tempDir()
    await writePgPlan(dir, 'postgres://postgres@127.0.0.1:1/nothing')
    await ok(dir, 'init')
    const unreachable = await drkit(dir, 'backup', 'main', '--json')
    expect(unreachable.code).toBe(1)
    expect(unreachable.json<{ error: { message: string } }>().error.message).toMatch(/cannot reach PostgreSQL/)

    const missing = await tempDir()
    await writePgPlan(missing, pgUrl('drkit_t_does_not_exist'))
    await ok(missing, 'init')
    const run = await drkit(missing, 'backup', 'main')
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/does not exist/)

    const src = await testDatabase()
    await src.client.query('CREATE TABLE t (a int)')
    const self = await setup(src.url)
    await ok(self, 'backup', 'main')
    const onto = await drkit(self, 'restore', 'main', '--to', src.url, '--force')
    expect(onto.code).toBe(1)
    expect(onto.stderr).toMatch(/live database itself/)
  })
})
