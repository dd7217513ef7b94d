/**
 * diff and undo for PostgreSQL, end to end through the built CLI: the agent captures
 * in-process while the test writes; the window's before images of rows with a primary key
 * (which pgoutput logs as the key alone) and TOASTed values an update left out are rebuilt
 * from the snapshot and the captured changes; undo writes them back with their exact types.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { expect, onTestFinished, test } from 'vitest'
import { createRepository, openContext } from '../../src/ops/context.js'
import { startTestAgent } from '../support/agent.js'
import { runCli } from '../support/cli.js'
import { fingerprintOf, testDatabase, writePgPlan } from '../support/postgres.js'
import { tempDir } from '../support/tmp.js'

const schema = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, price numeric(30, 10), doc jsonb, raw bytea,
    tags text[], feeling mood, period tstzrange, at timestamptz, body text,
    half numeric GENERATED ALWAYS AS (price / 2) STORED
  );
  CREATE TABLE events (account integer, kind text, payload jsonb);
  CREATE TABLE parents (id integer PRIMARY KEY, name text);
  CREATE TABLE children (id integer PRIMARY KEY, parent integer REFERENCES parents (id) ON DELETE CASCADE);
  CREATE TABLE audit (n serial PRIMARY KEY, what text);
  CREATE FUNCTION audit_items() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO audit (what) VALUES (TG_OP || ' ' || coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
  CREATE TRIGGER items_audit AFTER UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION audit_items();
`

// Incompressible, so stored out of line (TOAST); updates that leave it alone do not send it.
const big = () => randomBytes(2250).toString('base64')

async function scenario() {
  const src = await testDatabase()
  await src.client.query(schema)
  const dir = await tempDir('drkit-pg-diff-')
  await writePgPlan(dir, src.url, '    capture: { interval: 100ms }\n')
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  onTestFinished(() => ctx.close())
  await (await createRepository(ctx.plan)).close()
  return {
    src,
    dir,
    cli: (...args: string[]) => runCli(args, { cwd: dir }),
    startAgent: () => startTestAgent(ctx),
    async moment() {
      await sleep(250)
      const at = new Date().toISOString()
      await sleep(250)
      return at
    },
  }
}

/** Every row of a table in its text form, in a stable order. */
async function rowsOf(c: pg.Client, table: string, order: string): Promise<Record<string, string | null>[]> {
  const { rows } = await c.query({
    text: `SELECT * FROM ${table} ORDER BY ${order}`,
    types: { getTypeParser: () => (v: string) => v },
  })
  return rows
}

test('diff and undo of a corruption window: key-only before images, TOAST, no primary key, exact types', {
  timeout: 120_000,
}, async () => {
  const s = await scenario()
  const c = s.src.client
  const bodies = [big(), big(), big(), big()]
  await c.query(
    `INSERT INTO items (name, price, doc, raw, tags, feeling, period, at, body)
     SELECT 'item ' || g, 123456789012345678.0123456789 + g, jsonb_build_object('g', g, 'nested', jsonb_build_array(1.50, null, 'é')),
       decode('00ff' || lpad(to_hex(g), 2, '0'), 'hex'), ARRAY['a', NULL, 'c,d', ''], 'happy',
       tstzrange('2026-01-01', '2026-02-01', '[)'), '2026-02-27 10:00:00.123456+01', ($1::text[])[g]
     FROM generate_series(1, 4) g`,
    [bodies],
  )
  // The bodies are stored out of line, so an update that leaves them alone does not send them.
  const toast = await c.query("SELECT reltoastrelid::regclass::text AS t FROM pg_class WHERE relname = 'items'")
  const stored = await c.query(`SELECT count(DISTINCT chunk_id)::int AS n FROM ${toast.rows[0].t}`)
  expect(stored.rows[0].n).toBe(4)
  await c.query(`INSERT INTO events VALUES (1, 'a', '{"v": 1}'), (1, 'a2', '{"v": 2}'), (2, 'b', NULL), (3, 'c', '[]')`)
  const stop = await s.startAgent()
  // Changes between the snapshot and the window: the rebuilt rows must include them.
  await c.query(`UPDATE items SET name = 'renamed 2', tags = ARRAY['x'] WHERE id = 2`)
  bodies[2] = big()
  await c.query(`UPDATE items SET body = $1 WHERE id = 3`, [bodies[2]])
  const t0 = await s.moment()
  const itemsAtT0 = await rowsOf(c, 'items', 'id')
  const eventsAtT0 = await rowsOf(c, 'events', 'account, kind')
  // The corruption: TOASTed bodies untouched by the updates, a delete, an insert, a row without a key.
  await c.query('BEGIN')
  await c.query(`UPDATE items SET name = 'CORRUPT', price = 0, feeling = 'sad' WHERE id IN (1, 2)`)
  await c.query('DELETE FROM items WHERE id = 3')
  await c.query(`INSERT INTO items (name, body) VALUES ('intruder', 'x')`)
  await c.query(`UPDATE events SET kind = 'bad' WHERE account = 1`)
  await c.query('DELETE FROM events WHERE account = 2')
  await c.query('COMMIT')
  const t1 = await s.moment()
  // Later good writes: one of them changes a corrupted row again (a conflict).
  await c.query(`UPDATE items SET price = 42 WHERE id = 4`)
  await c.query(`UPDATE items SET name = 'fixed by hand' WHERE id = 1`)
  await c.query(`INSERT INTO events VALUES (9, 'later', '{}')`)
  await s.moment()
  await stop()

  // Without --tables, the audit rows the corruption's trigger wrote would be in the window too.
  const window = ['--from', t0, '--to', t1, '--tables', 'items,events']
  const diff = await s.cli('diff', 'main', ...window, '--json')
  expect(diff.code, diff.stderr).toBe(0)
  type Image = Record<string, string | null> | null
  const rows = diff.json<{ rows: { table: string; op: string; key: Image; before: Image; after: Image }[] }>().rows
  const byId = (id: string) => itemsAtT0.find((r) => r.id === id)!
  const { half: _, ...item2 } = byId('2')
  expect(rows.map((r) => [r.table, r.op, r.key])).toEqual([
    ['events', 'delete', { account: '1', kind: 'a', payload: '{"v": 1}' }],
    ['events', 'insert', { account: '1', kind: 'bad', payload: '{"v": 1}' }],
    ['events', 'delete', { account: '1', kind: 'a2', payload: '{"v": 2}' }],
    ['events', 'insert', { account: '1', kind: 'bad', payload: '{"v": 2}' }],
    ['events', 'delete', { account: '2', kind: 'b', payload: null }],
    ['items', 'update', { id: '1' }],
    ['items', 'update', { id: '2' }],
    ['items', 'delete', { id: '3' }],
    ['items', 'insert', { id: '5' }],
  ])
  // Whole rows on both sides, as of each moment, the generated column left out.
  expect(rows[6]!.before).toEqual(item2)
  expect(rows[6]!.after).toEqual({ ...item2, name: 'CORRUPT', price: '0.0000000000', feeling: 'sad' })
  expect(rows[7]!.before!.body).toBe(bodies[2])

  // --where sees generated columns too, computed from the image.
  const halves = await s.cli('diff', 'main', ...window, '--where', 'half = 0', '--json')
  expect(halves.code, halves.stderr).toBe(0)
  const kept = halves.json<{ unfiltered: string[]; rows: { table: string; key: Image }[] }>()
  expect(kept.unfiltered).toEqual(['events'])
  expect(kept.rows.filter((r) => r.table === 'items').map((r) => r.key)).toEqual([{ id: '1' }, { id: '2' }])
  const text = await s.cli('diff', 'main', '--from', t0, '--to', t1, '--tables', 'items', '--where', "name = 'CORRUPT'")
  expect(text.code, text.stderr).toBe(0)
  expect(text.stdout).toContain("name: 'renamed 2' → 'CORRUPT'")

  const dry = await s.cli('undo', 'main', ...window, '--dry-run', '--json')
  expect(dry.code, dry.stderr).toBe(0)
  expect(dry.json<{ conflicts: { key: object }[] }>().conflicts.map((x) => x.key)).toEqual([{ id: '1' }])

  const auditBefore = (await rowsOf(c, 'audit', 'n')).length
  const undo = await s.cli('undo', 'main', ...window, '--json')
  expect(undo.code, undo.stderr).toBe(0)
  const done = undo.json<{ restored: object; conflicts: object[]; bookmark: string }>()
  expect(done.restored).toEqual({ insert: 4, update: 1, delete: 3 })
  expect(done.conflicts).toHaveLength(1)
  const items = await rowsOf(c, 'items', 'id')
  expect(items).toEqual([
    { ...byId('1'), name: 'fixed by hand', price: '0.0000000000', feeling: 'sad', half: '0.00000000000000000000' },
    byId('2'),
    byId('3'),
    { ...byId('4'), price: '42.0000000000', half: '21.0000000000000000' },
  ])
  expect(await rowsOf(c, 'events', 'account, kind')).toEqual([
    ...eventsAtT0,
    { account: '9', kind: 'later', payload: '{}' },
  ])
  // An application write: its trigger fired for the rows updated and deleted back.
  const audit = (await rowsOf(c, 'audit', 'n')).slice(auditBefore).map((r) => r.what)
  expect(audit.sort()).toEqual(['DELETE 5', 'UPDATE 2'])

  // The undo is captured like any write: the window after it shows it.
  const print = await fingerprintOf(s.src.name)
  const again = await s.startAgent()
  const t2 = await s.moment()
  await again()
  const restored = await s.cli('diff', 'main', '--from', t1, '--to', t2, '--tables', 'items', '--json')
  const ids = restored.json<{ rows: { key: { id: string } }[] }>().rows.map((r) => r.key.id)
  expect(ids.sort()).toEqual(['1', '2', '3', '4', '5'])
  expect(await fingerprintOf(s.src.name)).toEqual(print)
})

test('undo runs no foreign key actions; bad input changes nothing and says what is wrong', {
  timeout: 120_000,
}, async () => {
  const s = await scenario()
  const c = s.src.client
  await c.query(`INSERT INTO parents VALUES (1, 'p1'); INSERT INTO children VALUES (1, 1)`)
  const stop = await s.startAgent()
  const t1 = await s.moment()
  await c.query(`INSERT INTO parents VALUES (2, 'p2'); INSERT INTO children VALUES (2, 2)`)
  await c.query(`UPDATE parents SET name = 'P1' WHERE id = 1`)
  const t2 = await s.moment()
  await c.query('INSERT INTO children VALUES (3, 2)')
  const t3 = await s.moment()
  await c.query(`INSERT INTO audit (what) VALUES ('x'); TRUNCATE audit`)
  const t4 = await s.moment()
  await stop()
  const before = await fingerprintOf(s.src.name)

  // Parent 2 would go, and its ON DELETE CASCADE would take child 3, written after the window.
  const refused = await s.cli('undo', 'main', '--from', t1, '--to', t2)
  expect(refused.code).toBe(1)
  expect(refused.stderr).toMatch(/failed and changed nothing: it would leave rows of children referring to rows/)
  expect(await fingerprintOf(s.src.name)).toEqual(before)

  const cases: [string[], number, RegExp][] = [
    [['undo', 'main', '--from', t2, '--to', t1], 2, /--from .* is after --to/],
    [['diff', 'main', '--from', '2001-01-01T00:00:00Z', '--to', t2], 1, /outside main's recoverable window: \d{4}-/],
    [['undo', 'main', '--from', t1, '--to', '2001-01-01T00:00:00Z'], 2, /--from .* is after --to/],
    [['undo', 'main', '--from', t1, '--to', '2100-01-01T00:00:00Z'], 1, /2100-01-01T00:00:00.000Z is outside main's/],
    [['undo', 'main', '--from', t1, '--to', t2, '--where', "name = 'x' AND"], 2, /--where .* is not a condition/],
    [['undo', 'main', '--from', t1, '--to', t2, '--where', 'tenant = 1'], 2, /names columns that none of the tables/],
    [['diff', 'main', '--from', t1, '--to', t2, '--where', 'name::int = 1'], 2, /fails on a row of parents/],
    [['undo', 'main', '--from', t1, '--to', t2, '--tables', 'nope'], 2, /main has no table nope/],
    [['undo', 'main', '--from', t3, '--to', t4], 1, /table audit was emptied at once \(TRUNCATE, change \d+\)/],
  ]
  for (const [args, code, message] of cases) {
    const run = await s.cli(...args)
    expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(code)
    expect(run.stderr).toMatch(message)
  }
  expect(await fingerprintOf(s.src.name)).toEqual(before)

  // Without parent and child 2: parent 1 gets its name back, and nothing else changes.
  const narrow = await s.cli('undo', 'main', '--from', t1, '--to', t2, '--where', 'id = 1', '--tables', 'parents')
  expect(narrow.code, narrow.stderr).toBe(0)
  expect(await rowsOf(c, 'parents', 'id')).toEqual([
    { id: '1', name: 'p1' },
    { id: '2', name: 'p2' },
  ])
  expect((await rowsOf(c, 'children', 'id')).map((r) => r.parent)).toEqual(['1', '2', '2'])

  // Without the truncated table, the window has nothing else to put back.
  const rest = await s.cli('diff', 'main', '--from', t3, '--to', t4, '--tables', 'parents,children', '--json')
  expect(rest.json<{ rows: unknown[] }>().rows).toEqual([])

  // A bookmark names the position after the undo (shipping it first); the timeline lists both.
  const mark = await s.cli('bookmark', 'main', 'after-undo')
  expect(mark.code, mark.stderr).toBe(0)
  const timeline = await s.cli('timeline', 'main', '--json')
  expect(timeline.code, timeline.stderr).toBe(0)
  expect(timeline.stdout).toContain('after-undo')
  expect(timeline.stdout).toMatch(/undo-\d{8}T\d{6}/)
})
