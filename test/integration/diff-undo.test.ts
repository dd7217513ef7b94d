/**
 * diff and undo end to end: the real agent captures in-process while the test writes,
 * moments are taken between writes (the agent proves a boundary every 20 ms, so a pause
 * on each side of a moment separates the writes), then the built CLI answers.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { expect, onTestFinished, test } from 'vitest'
import { createRepository, openContext } from '../../src/ops/context.js'
import type { Row } from '../../src/sources/index.js'
import { decodeJsonValue, type JsonValue } from '../../src/timeline/index.js'
import { startTestAgent } from '../support/agent.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

interface Scenario {
  dir: string
  db: Database.Database
  cli(...args: string[]): ReturnType<typeof runCli>
  /** Starts the agent; resolves once capture is installed and the first snapshot taken. */
  startAgent(): Promise<() => Promise<void>>
  /** A moment between the writes before it and the writes after it (ISO 8601). */
  moment(): Promise<string>
  /** The rows of a table, with their rowids unless ordered by something else. */
  rows(table: string, order?: string): Row[]
  fingerprint(resource?: string): Promise<unknown>
}

async function scenario(schema: string): Promise<Scenario> {
  const dir = await tempDir('drkit-diff-undo-')
  const plain = '  plain-db:\n    type: sqlite\n    path: ./plain.db\n'
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan(`    capture: { interval: 100ms }\n${plain}`))
  const db = new Database(join(dir, 'app.db'))
  db.defaultSafeIntegers(true)
  db.exec(schema)
  new Database(join(dir, 'plain.db')).exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)').close()
  const ctx = await openContext({ config: join(dir, 'drkit.yaml') })
  await (await createRepository(ctx.plan)).close()
  onTestFinished(async () => {
    db.close()
    await ctx.close()
  })
  const s: Scenario = {
    dir,
    db,
    cli: (...args) => runCli(args, { cwd: dir }),
    startAgent: () => startTestAgent(ctx),
    async moment() {
      await sleep(120)
      const at = new Date().toISOString()
      await sleep(120)
      return at
    },
    rows: (table, order = 'rowid') =>
      db
        .prepare(`SELECT ${order === 'rowid' ? 'rowid AS _rowid, ' : ''}* FROM ${table} ORDER BY ${order}`)
        .all() as Row[],
    async fingerprint(resource = 'app-db') {
      const source = await ctx.openSource(resource)
      try {
        return await source.fingerprint('source')
      } finally {
        await source.close()
      }
    },
  }
  return s
}

const decodeRow = (row: Record<string, JsonValue> | null) =>
  row && Object.fromEntries(Object.entries(row).map(([k, v]) => [k, decodeJsonValue(v)]))

test('diff lists each row changed in the window once, net, with exact values', async () => {
  const s = await scenario(`
    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB);
    CREATE TABLE tags (region TEXT, id INTEGER, label TEXT, PRIMARY KEY (region, id)) WITHOUT ROWID;
    INSERT INTO items VALUES (1, 'one', 1, 1.5, NULL), (2, 'two', 2, 2.0, x'00'), (3, 'three', 3, 3.25, NULL),
      (4, 'four', 4, NULL, NULL);
    INSERT INTO tags VALUES ('eu', 1, 'a'), ('eu', 2, 'b');`)
  const stop = await s.startAgent()
  const t0 = await s.moment()
  const atT0 = [s.rows('items'), s.rows('tags', 'region, id')]
  s.db.transaction(() => {
    s.db
      .prepare('INSERT INTO items VALUES (5, ?, ?, 0.1, ?)')
      .run('ünïcødé ✓ 🌍', 2n ** 53n + 1n, Buffer.from([0, 1, 255]))
    s.db.exec('UPDATE items SET price = 2.5, name = NULL WHERE id = 1; DELETE FROM items WHERE id = 2')
  })()
  const t1 = await s.moment()
  s.db.exec(`UPDATE items SET qty = qty + 1 WHERE id = 3;
    INSERT INTO items VALUES (6, 'gone', 6, NULL, NULL); DELETE FROM items WHERE id = 6;
    UPDATE items SET id = 40 WHERE id = 4;
    UPDATE tags SET region = 'us' WHERE id = 1; UPDATE tags SET label = 'B' WHERE id = 2;`)
  const t2 = await s.moment()
  s.db.exec('UPDATE items SET qty = 0 WHERE id = 5')
  await s.moment()
  await stop()

  const run = await s.cli('diff', 'app-db', '--from', t0, '--to', t2, '--json')
  expect(run.code, run.stderr).toBe(0)
  type Image = Record<string, JsonValue> | null
  type DiffRow = { table: string; op: string; key: Image; before: Image; after: Image }
  const doc = run.json<{ fromSeq: number; toSeq: number; rows: DiffRow[] }>()
  const rows = doc.rows.map((r) => [r.table, r.op, decodeRow(r.key), decodeRow(r.before), decodeRow(r.after)])
  const item = (id: bigint, name: string | null, qty: bigint, price: number | null, data: Buffer | null) => ({
    id,
    name,
    qty,
    price,
    data,
  })
  const tag = (region: string, id: bigint, label: string) => ({ region, id, label })
  const five = item(5n, 'ünïcødé ✓ 🌍', 9007199254740993n, 0.1, Buffer.from([0, 1, 255]))
  expect(rows).toEqual([
    ['items', 'insert', { rowid: 5n }, null, five],
    ['items', 'update', { rowid: 1n }, item(1n, 'one', 1n, 1.5, null), item(1n, null, 1n, 2.5, null)],
    ['items', 'delete', { rowid: 2n }, item(2n, 'two', 2n, 2, Buffer.from([0])), null],
    ['items', 'update', { rowid: 3n }, item(3n, 'three', 3n, 3.25, null), item(3n, 'three', 4n, 3.25, null)],
    ['items', 'delete', { rowid: 4n }, item(4n, 'four', 4n, null, null), null],
    ['items', 'insert', { rowid: 40n }, null, item(40n, 'four', 4n, null, null)],
    ['tags', 'delete', { region: 'eu', id: 1n }, tag('eu', 1n, 'a'), null],
    ['tags', 'insert', { region: 'us', id: 1n }, null, tag('us', 1n, 'a')],
    ['tags', 'update', { region: 'eu', id: 2n }, tag('eu', 2n, 'b'), tag('eu', 2n, 'B')],
  ])
  // The REAL 2.0 stays a REAL, the integer 2 an integer.
  expect(doc.rows[2]!.before).toMatchObject({ qty: 2, price: { $real: '2' } })
  expect(doc.toSeq).toBeGreaterThan(doc.fromSeq)

  // A sub-window; --where filters the tables that have its columns and names the others.
  const narrow = await s.cli('diff', 'app-db', '--from', t0, '--to', t1, '--where', 'qty > 100', '--json')
  expect(narrow.json<{ rows: { key: unknown }[] }>().rows.map((r) => r.key)).toEqual([{ rowid: 5 }])
  const where = await s.cli('diff', 'app-db', '--from', t1, '--to', t2, '--where', 'qty > 3', '--json')
  const found = where.json<{ unfiltered: string[]; rows: { table: string }[] }>()
  expect(found.unfiltered).toEqual(['tags'])
  expect(found.rows.map((r) => r.table)).toEqual(['items', 'items', 'items', 'tags', 'tags', 'tags'])

  const human = await s.cli('diff', 'app-db', '--from', t0, '--to', t2, '--tables', 'items')
  expect(human.stdout).toContain("update  rowid=1   name: 'one' → NULL, price: 1.5 → 2.5")
  expect(human.stdout).not.toContain('tags')

  // Undoing the whole window, and with --force the later change of row 5, gives back the state at t0 exactly.
  const undo = await s.cli('undo', 'app-db', '--from', t0, '--to', t2, '--force', '--json')
  expect(undo.code, undo.stderr).toBe(0)
  expect(undo.json<{ conflicts: unknown[] }>().conflicts).toMatchObject([{ table: 'items', key: { rowid: 5 } }])
  expect([s.rows('items'), s.rows('tags', 'region, id')]).toEqual(atT0)
})

test('undo of a corruption window keeps later good writes, reports the conflict, and can be undone', async () => {
  const s = await scenario(`
    CREATE TABLE tenants (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, name TEXT, balance INTEGER);
    CREATE TABLE audit (n INTEGER PRIMARY KEY, what TEXT);
    CREATE TRIGGER audit_tenants AFTER UPDATE ON tenants BEGIN INSERT INTO audit (what) VALUES ('update ' || NEW.id); END;
    WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20)
    INSERT INTO tenants SELECT n, 't' || ((n - 1) / 4 + 1), 'row ' || n, n * 100 FROM i;`)
  const stop = await s.startAgent()
  const t1 = await s.moment()
  const atT1 = s.rows('tenants')
  s.db.exec("UPDATE tenants SET name = 'CORRUPT', balance = 0 WHERE tenant = 't1'")
  s.db.exec('DELETE FROM tenants WHERE id IN (2, 3)')
  const t2 = await s.moment()
  s.db.exec(`UPDATE tenants SET balance = balance + 1 WHERE tenant IN ('t2', 't5');
    INSERT INTO tenants VALUES (21, 't3', 'new', 2100); DELETE FROM tenants WHERE id = 13;
    UPDATE tenants SET balance = 777 WHERE id = 4`)
  await s.moment()
  const beforeUndo = s.rows('tenants')
  const fingerprint = await s.fingerprint()

  // Without --tables, undo would also delete the audit rows the corruption's trigger wrote.
  const undo = (...args: string[]) => s.cli('undo', 'app-db', '--from', t1, '--to', t2, '--tables', 'tenants', ...args)
  const dry = await undo('--dry-run', '--json')
  expect(dry.code, dry.stderr).toBe(0)
  const planned = dry.json<{ restored: object; conflicts: { key: object; live: object }[]; bookmark: null }>()
  expect(planned.restored).toEqual({ insert: 2, update: 1, delete: 0 })
  expect(planned.conflicts).toMatchObject([{ key: { rowid: 4 }, live: { balance: 777, name: 'CORRUPT' } }])
  expect(planned.bookmark).toBeNull()
  expect(await s.fingerprint()).toEqual(fingerprint)

  const auditBefore = s.rows('audit').length
  const run = await undo('--json')
  expect(run.code, run.stderr).toBe(0)
  const done = run.json<{ restored: object; conflicts: object[]; bookmark: string }>()
  expect(done.restored).toEqual({ insert: 2, update: 1, delete: 0 })
  expect(done.conflicts).toHaveLength(1)
  expect(done.bookmark).toMatch(/^undo-\d{8}T\d{6}\.\d{3}Z$/)
  const byId = (rows: Row[]) => new Map(rows.map((r) => [r.id, r]))
  const expected = byId(beforeUndo)
  for (const id of [1n, 2n, 3n]) expected.set(id, byId(atT1).get(id)!)
  expect(byId(s.rows('tenants'))).toEqual(expected)
  // An application write: the application's trigger fired for the row updated back.
  expect(
    s
      .rows('audit')
      .slice(auditBefore)
      .map((r) => r.what),
  ).toEqual(['update 1'])

  const forced = await undo('--force')
  expect(forced.code, forced.stderr).toBe(0)
  expect(forced.stdout).toContain('1 row updated back, 0 re-inserted, 0 deleted (3 rows already as they were)')
  expect(forced.stdout).toMatch(/1 conflict, .*overwritten/)
  expected.set(4n, byId(atT1).get(4n)!)
  expect(byId(s.rows('tenants'))).toEqual(expected)
  const afterUndo = await s.moment()
  await stop()

  // Capture recorded the undo like any write: the undo can be read back and undone in turn.
  const restored = await s.cli('restore', 'app-db', '--to', 'pre-undo.db', '--bookmark', done.bookmark)
  expect(restored.code, restored.stderr).toBe(0)
  const copy = new Database(join(s.dir, 'pre-undo.db'), { readonly: true })
  copy.defaultSafeIntegers(true)
  expect(copy.prepare('SELECT rowid AS _rowid, * FROM tenants ORDER BY rowid').all()).toEqual(beforeUndo)
  copy.close()
  const undone = await s.cli('diff', 'app-db', '--from', t2, '--to', afterUndo, '--tables', 'tenants', '--json')
  const keys = undone.json<{ rows: { key: { rowid: number } }[] }>().rows.map((r) => r.key.rowid)
  expect(keys.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 18, 19, 20, 21])
})

test('bad input changes nothing and says what is wrong', async () => {
  const s = await scenario('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 1)')
  const stop = await s.startAgent()
  const t1 = await s.moment()
  s.db.exec("UPDATE t SET v = 'x'")
  const t2 = await s.moment()
  await stop()
  const before = [await s.fingerprint(), await s.fingerprint('plain-db')]
  const cases: [string[], number, RegExp][] = [
    [['undo', 'app-db', '--from', t2, '--to', t1], 2, /--from .* is after --to/],
    [['diff', 'app-db', '--from', t2, '--to', t1], 2, /--from .* is after --to/],
    [
      ['undo', 'app-db', '--from', '2001-01-01T00:00:00Z', '--to', t2],
      1,
      /outside app-db's recoverable window: \d{4}-/,
    ],
    [['undo', 'app-db', '--from', t1, '--to', t2, '--where', "v = 'x' AND"], 2, /--where .* is not a condition/],
    [
      ['undo', 'app-db', '--from', t1, '--to', t2, '--where', 'tenant = 1'],
      2,
      /names columns that none of the tables t has/,
    ],
    [['undo', 'app-db', '--from', t1, '--to', t2, '--tables', 'nope'], 2, /app-db has no table nope/],
    [['diff', 'app-db', '--from', t1, '--to', t2, '--where', "json_extract(v, '$.a')"], 2, /fails on a row of t/],
    [['undo', 'plain-db', '--from', t1, '--to', t2], 2, /plain-db has no capture in the plan/],
    [['diff', 'plain-db', '--from', t1, '--to', t2], 2, /plain-db has no capture in the plan/],
  ]
  for (const [args, code, message] of cases) {
    const run = await s.cli(...args)
    expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(code)
    expect(run.stderr).toMatch(message)
  }
  expect([await s.fingerprint(), await s.fingerprint('plain-db')]).toEqual(before)
})

test('undo runs no foreign key actions, and refuses to leave references dangling', async () => {
  const s = await scenario(`
    CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE children (id INTEGER PRIMARY KEY, name TEXT,
      parent INTEGER REFERENCES parents (id) ON DELETE CASCADE ON UPDATE CASCADE);
    INSERT INTO parents VALUES (1, 'p1'); INSERT INTO children VALUES (1, 'c1', 1);`)
  const stop = await s.startAgent()
  const t1 = await s.moment()
  const atT1 = s.rows('children')
  // The application enforces foreign keys: the new key cascades to the child, and capture records both.
  s.db.exec("UPDATE parents SET id = 10 WHERE id = 1; INSERT INTO parents VALUES (2, 'p2')")
  s.db.exec("INSERT INTO children VALUES (2, 'c2', 2)")
  const t2 = await s.moment()
  s.db.exec("INSERT INTO children VALUES (3, 'c3', 2)")
  await s.moment()
  await stop()
  const before = await s.fingerprint()

  // Parent 2 goes, and with it child 2; child 3, written later, would refer to nothing.
  const refused = await s.cli('undo', 'app-db', '--from', t1, '--to', t2)
  expect(refused.code).toBe(1)
  expect(refused.stderr).toMatch(/failed and changed nothing: it would leave rows of children referring to rows/)
  expect(await s.fingerprint()).toEqual(before)

  // Without parent and child 2: parent 10 is deleted (no cascade takes child 1 with it), 1 comes back.
  const run = await s.cli('undo', 'app-db', '--from', t1, '--to', t2, '--where', 'id != 2')
  expect(run.code, run.stderr).toBe(0)
  expect(s.rows('parents').map((r) => r.id)).toEqual([1n, 2n])
  expect(s.rows('children').slice(0, 1)).toEqual(atT1)
  expect(s.rows('children').map((r) => [r.id, r.parent])).toEqual([
    [1n, 1n],
    [2n, 2n],
    [3n, 2n],
  ])
})
