/**
 * PostgreSQL capture's life through the CLI: install (with REPLICA IDENTITY FULL for a
 * table without a key, said in a warning), slot lag in the timeline, a schema change
 * starting a new generation, `capture remove` dropping slot and publication, a role
 * without replication rights (capture refused, snapshots still work), and a moment
 * outside the window.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { fingerprintOf, pgClient, pgUrl, testDatabase, throwawayName, writePgPlan } from '../support/postgres.js'
import { tempDir } from '../support/tmp.js'

async function drkit(dir: string, ...args: string[]) {
  return runCli(args, { cwd: dir })
}

async function ok(dir: string, ...args: string[]) {
  const run = await drkit(dir, ...args)
  if (run.code !== 0) throw new Error(`drkit ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`)
  return run
}

interface TimelineDoc {
  generations: { id: string; snapshots: unknown[] }[]
  window: { from: string; to: string }[]
  lag?: { bytes: number; seconds: number; active: boolean }
}

describe('postgres capture lifecycle', () => {
  test('install, lag, schema change, remove', { timeout: 120_000 }, async () => {
    const src = await testDatabase()
    await src.client.query(`
      CREATE TABLE items (id serial PRIMARY KEY, name text);
      CREATE TABLE log (line text);
      CREATE UNLOGGED TABLE scratch (a int);
      INSERT INTO items (name) VALUES ('a'), ('b');`)
    const dir = await tempDir()
    await writePgPlan(dir, src.url, '    capture: { interval: 100ms }\n')
    await ok(dir, 'init')
    const first = await ok(dir, 'agent', '--once')
    expect(first.stderr).toMatch(/log has no primary key.*REPLICA IDENTITY FULL/)
    expect(first.stderr).toMatch(/scratch is unlogged/)
    const ident = await src.client.query("SELECT relreplident::text AS r FROM pg_class WHERE relname = 'log'")
    expect(ident.rows[0].r).toBe('f')
    // The application's updates and deletes of the table without a key keep working.
    await src.client.query("INSERT INTO log VALUES ('x'); UPDATE log SET line = 'y'; DELETE FROM log")
    await src.client.query("INSERT INTO items (name) VALUES ('c'); INSERT INTO log VALUES ('kept')")

    const lagged = (await ok(dir, 'timeline', 'main', '--json')).json<TimelineDoc>()
    expect(lagged.lag!.bytes).toBeGreaterThan(0)
    expect(lagged.lag!.seconds).toBeGreaterThanOrEqual(0)
    expect(lagged.generations).toHaveLength(1)
    await ok(dir, 'agent', '--once')
    const target = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(target))
    expect(await fingerprintOf(target)).toEqual(await fingerprintOf(src.name))

    await src.client.query("ALTER TABLE items ADD COLUMN price numeric; UPDATE items SET price = 1 WHERE name = 'a'")
    const changed = await ok(dir, 'agent', '--once')
    expect(changed.stderr).toMatch(/schema changed/)
    const after = (await ok(dir, 'timeline', 'main', '--json')).json<TimelineDoc>()
    expect(after.generations).toHaveLength(2)
    const again = throwawayName()
    await ok(dir, 'restore', 'main', '--to', pgUrl(again))
    expect(await fingerprintOf(again)).toEqual(await fingerprintOf(src.name))

    const removed = (await ok(dir, 'capture', 'remove', 'main', '--json')).json<{ removed: boolean }>()
    expect(removed.removed).toBe(true)
    const left = await src.client.query(`
      SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())::int AS slots,
        (SELECT count(*) FROM pg_publication)::int AS pubs, to_regnamespace('_drkit') IS NULL AS gone`)
    expect(left.rows[0]).toEqual({ slots: 0, pubs: 0, gone: true })

    const outside = await drkit(dir, 'restore', 'main', '--to', pgUrl(throwawayName()), '--at', '2001-01-01T00:00:00Z')
    expect(outside.code).toBe(1)
    expect(outside.stderr).toMatch(/outside main's recoverable window/)
  })

  test('a role without replication rights: capture is refused with what to grant, snapshots work', async () => {
    const src = await testDatabase()
    const role = `drkit_t_role_${randomBytes(4).toString('hex')}`
    await src.client.query(`CREATE ROLE ${role} LOGIN; GRANT ALL ON SCHEMA public TO ${role}`)
    try {
      await src.client.query(
        `CREATE TABLE t (id int PRIMARY KEY); ALTER TABLE t OWNER TO ${role}; INSERT INTO t VALUES (1)`,
      )
      const dir = await tempDir()
      await writePgPlan(dir, `postgres://${role}@127.0.0.1:5432/${src.name}`, '    capture: { interval: 100ms }\n')
      await ok(dir, 'init')
      const refused = await drkit(dir, 'agent', '--once')
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(new RegExp(`the role ${role} has no REPLICATION right`))
      expect(refused.stderr).toMatch(new RegExp(`ALTER ROLE ${role} REPLICATION.*snapshot backups`))
      await ok(dir, 'backup', 'main')
      const wrong = await tempDir()
      await writePgPlan(wrong, `postgres://${role}:nope@127.0.0.1:5432/${src.name}`)
      await ok(wrong, 'init')
      // Trust authentication on the test server accepts any password; the user must exist.
      await writePgPlan(wrong, `postgres://drkit_t_nobody@127.0.0.1:5432/${src.name}`)
      const nobody = await drkit(wrong, 'backup', 'main')
      expect(nobody.code).toBe(1)
      expect(nobody.stderr).toMatch(/drkit_t_nobody/)
    } finally {
      await src.client.end()
      const admin = await pgClient('postgres')
      await admin.query(`DROP DATABASE ${src.name} WITH (FORCE)`)
      await admin.query(`DROP ROLE ${role}`)
      await admin.end()
    }
  })
})
