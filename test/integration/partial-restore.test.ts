/**
 * Partial restores through the built CLI, on a multi-tenant SQLite database: --tables and
 * --where alone, together, and at a captured moment or bookmark. Bad input is a usage error
 * (exit 2) that leaves no target and no temporary file behind.
 */
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { type CliRun, runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

type Row = Record<string, unknown>

const schema = `
  CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL);
  CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL REFERENCES tenants (id),
    email TEXT NOT NULL, order_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX users_email ON users (tenant_id, email);
  CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), total REAL, note BLOB
  );
  CREATE INDEX orders_user ON orders (user_id);
  CREATE TRIGGER orders_count AFTER INSERT ON orders BEGIN
    UPDATE users SET order_count = order_count + 1 WHERE id = NEW.user_id;
  END;
  -- No primary key: its rowids must survive the partial restore too.
  CREATE TABLE events (tenant_id TEXT, kind TEXT);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
  CREATE VIEW order_totals AS
    SELECT u.tenant_id, count(*) AS orders, sum(o.total) AS total FROM orders o JOIN users u ON u.id = o.user_id
    GROUP BY u.tenant_id;
  CREATE VIEW tenant_users AS SELECT t.name, u.email FROM tenants t JOIN users u ON u.tenant_id = t.id;
`

/** Each table's rows in a stable order, rowids included where a table has them. */
const dumps: Record<string, string> = {
  tenants: 'SELECT * FROM tenants ORDER BY id',
  users: 'SELECT * FROM users ORDER BY id',
  orders: 'SELECT * FROM orders ORDER BY id',
  events: 'SELECT rowid AS rid, * FROM events ORDER BY rowid',
  settings: 'SELECT * FROM settings ORDER BY key',
  sqlite_sequence: 'SELECT * FROM sqlite_sequence ORDER BY name',
}

const t2 = "tenant_id = 't2'"

/** Inserts users, orders and events for a tenant: `n` users with two orders each. */
function addTenantRows(db: Database.Database, tenant: string, n: number, tag: string): void {
  const user = db.prepare('INSERT INTO users (tenant_id, email) VALUES (?, ?)')
  const order = db.prepare('INSERT INTO orders (tenant_id, user_id, total, note) VALUES (?, ?, ?, ?)')
  const event = db.prepare('INSERT INTO events (tenant_id, kind) VALUES (?, ?)')
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = user.run(tenant, `${tag}${i}@${tenant}.example`).lastInsertRowid
      for (let k = 0; k < 2; k++) order.run(tenant, id, (i + 1) * 10.25 + k, Buffer.from([i, k, 0xff]))
      event.run(tenant, `signup ${tag}${i}`)
    }
  })()
}

/** A plan, a live database with three tenants, a repository and one snapshot (capture first, if asked). */
async function setup(capture = false): Promise<string> {
  const dir = await tempDir('drkit-partial-')
  await writeFile(join(dir, 'drkit.yaml'), sqlitePlan(capture ? '    capture: { interval: 1s }\n' : ''))
  const db = new Database(join(dir, 'app.db'))
  db.pragma('page_size = 8192')
  db.pragma('journal_mode = WAL')
  db.exec(schema)
  db.exec("INSERT INTO tenants VALUES ('t1', 'Acme'), ('t2', 'Globex'), ('t3', 'Initech')")
  db.exec("INSERT INTO settings VALUES ('theme', 'dark'), ('limit', 10)")
  for (const tenant of ['t1', 't2', 't3']) addTenantRows(db, tenant, 4, 'u')
  // Gaps: sqlite_sequence now runs ahead of the rows, and events' rowids are not 1..n.
  db.exec("DELETE FROM orders WHERE id IN (SELECT max(id) FROM orders); DELETE FROM events WHERE kind = 'signup u1'")
  db.close()
  await ok(dir, 'init')
  if (capture) await ok(dir, 'agent', '--once')
  await ok(dir, 'backup')
  return dir
}

async function ok(dir: string, ...args: string[]): Promise<CliRun> {
  const run = await runCli(args, { cwd: dir })
  expect(run.code, `drkit ${args.join(' ')}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0)
  return run
}

function read<T>(file: string, use: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return use(db)
  } finally {
    db.close()
  }
}

function rows(file: string, table: string, filter: (row: Row) => boolean = () => true): Row[] {
  return read(file, (db) => (db.prepare(dumps[table]!).all() as Row[]).filter(filter))
}

/** Every schema object but SQLite's automatic indexes, as `type name`. */
function objects(file: string): string[] {
  return read(file, (db) =>
    db
      .prepare("SELECT type || ' ' || name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY 1")
      .pluck()
      .all(),
  ) as string[]
}

function sequences(file: string, tables: string[]): Row[] {
  return rows(file, 'sqlite_sequence', (r) => tables.includes(r.name as string))
}

const ofT2 = (r: Row) => r.tenant_id === 't2'

function expectHealthy(file: string): void {
  read(file, (db) => {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(db.pragma('page_size', { simple: true })).toBe(8192)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
  })
}

describe('restore --tables and --where', () => {
  it('--tables restores exactly those tables, all their rows, their indexes, triggers and views', async () => {
    const dir = await setup()
    const live = join(dir, 'app.db')
    const target = join(dir, 'part.db')
    await ok(dir, 'restore', 'app-db', '--to', target, '--tables', 'users, ORDERS')
    expect(objects(target)).toEqual([
      'index orders_user',
      'index users_email',
      'table orders',
      'table sqlite_sequence',
      'table users',
      'trigger orders_count',
      'view order_totals',
    ])
    for (const table of ['users', 'orders']) expect(rows(target, table)).toEqual(rows(live, table))
    expect(sequences(target, ['users', 'orders'])).toEqual(sequences(live, ['users', 'orders']))
    expect(rows(target, 'sqlite_sequence')).toHaveLength(2)
    expectHealthy(target)
    // The trigger came back and works; the view reads the restored tables.
    const db = new Database(target)
    try {
      db.exec("INSERT INTO orders (tenant_id, user_id, total) VALUES ('t1', 1, 1)")
      expect(db.prepare('SELECT order_count FROM users WHERE id = 1').pluck().get()).toBe(3)
      expect(db.prepare('SELECT sum(orders) FROM order_totals').pluck().get()).toBe(rows(live, 'orders').length + 1)
    } finally {
      db.close()
    }
  })

  it('--where keeps only matching rows in tables with its columns and whole other tables', async () => {
    const dir = await setup()
    const live = join(dir, 'app.db')
    const target = join(dir, 'part.db')
    const doc = (await ok(dir, 'restore', 'app-db', '--to', target, '--where', t2, '--json')).json()
    expect(doc).toMatchObject({ resource: 'app-db', where: t2 })
    for (const table of ['users', 'orders', 'events']) {
      const expected = rows(live, table, ofT2)
      expect(expected.length).toBeGreaterThan(0)
      expect(expected.length).toBeLessThan(rows(live, table).length)
      expect(rows(target, table)).toEqual(expected)
    }
    for (const table of ['tenants', 'settings', 'sqlite_sequence'])
      expect(rows(target, table)).toEqual(rows(live, table))
    expect(objects(target)).toEqual(objects(live))
    expectHealthy(target)
  })

  it('--tables and --where combine', async () => {
    const dir = await setup()
    const live = join(dir, 'app.db')
    const target = join(dir, 'part.db')
    await ok(dir, 'restore', 'app-db', '--to', target, '--tables', 'users,orders,settings', '--where', t2)
    for (const table of ['users', 'orders']) expect(rows(target, table)).toEqual(rows(live, table, ofT2))
    expect(rows(target, 'settings')).toEqual(rows(live, 'settings'))
    expect(objects(target).filter((o) => o.startsWith('table') || o.startsWith('view'))).toEqual([
      'table orders',
      'table settings',
      'table sqlite_sequence',
      'table users',
      'view order_totals',
    ])
    expectHealthy(target)
  })

  it('combines with --at and --bookmark: the part is cut from the state of that moment', async () => {
    const dir = await setup(true)
    const live = join(dir, 'app.db')
    const write = (sql: string, tag?: string) => {
      const db = new Database(live)
      try {
        db.exec(sql)
        if (tag) addTenantRows(db, 't2', 2, tag)
      } finally {
        db.close()
      }
    }
    write(
      "UPDATE orders SET total = total * 2 WHERE tenant_id = 't1'; DELETE FROM events WHERE kind = 'signup u2'",
      'a',
    )
    await ok(dir, 'agent', '--once')
    await ok(dir, 'bookmark', 'app-db', 'middle')
    await sleep(50)
    const at = new Date().toISOString()
    const expected = { users: rows(live, 'users', ofT2), orders: rows(live, 'orders', ofT2) }
    const sequence = sequences(live, ['users', 'orders'])
    await sleep(50)
    write(
      "DELETE FROM orders WHERE tenant_id = 't2'; UPDATE users SET email = 'gone' || id WHERE tenant_id = 't2'",
      'b',
    )
    await ok(dir, 'agent', '--once')

    const part = ['--tables', 'users,orders', '--where', t2, '--json']
    for (const point of [
      ['--at', at],
      ['--bookmark', 'middle'],
    ]) {
      const target = join(dir, `part${point[0]}.db`)
      const doc = (await ok(dir, 'restore', 'app-db', '--to', target, ...point, ...part)).json()
      expect(doc.changes).toBeGreaterThan(0)
      expect(rows(target, 'users')).toEqual(expected.users)
      expect(rows(target, 'orders')).toEqual(expected.orders)
      expect(sequences(target, ['users', 'orders'])).toEqual(sequence)
      expect(objects(target).some((o) => o.includes('_drkit_'))).toBe(false)
      expectHealthy(target)
    }
  })

  it('keeps --force semantics: an existing target is refused, or replaced with --force', async () => {
    const dir = await setup()
    const target = join(dir, 'part.db')
    await writeFile(target, 'keep me')
    const refused = await runCli(['restore', 'app-db', '--to', target, '--tables', 'users'], { cwd: dir })
    expect(refused.code, refused.stderr).toBe(1)
    await ok(dir, 'restore', 'app-db', '--to', target, '--tables', 'users', '--force')
    expect(objects(target).filter((o) => o.startsWith('table'))).toEqual(['table sqlite_sequence', 'table users'])
  })

  it.each([
    ['an unknown table', ['--tables', 'users,nope'], /no table "nope".*\n.*events, orders, settings, tenants, users/],
    ['a where that does not parse', ['--where', "tenant_id = = 't2'"], /--where .* syntax error/],
    ['a where naming a column no restored table has', ['--tables', 'tenants', '--where', t2], /no such column/],
    ['a where naming a column no table has', ['--where', "tenant = 't2'"], /none of the restored tables/],
    // Fails while rows are copied, after the new database was begun: its files must go too.
    ['a where that fails on a row', ['--where', "json_extract(email, '$.a') = 1"], /malformed JSON/],
    ['an empty table name', ['--tables', 'users,'], /--tables: a table name is empty/],
  ])('refuses %s: exit 2, a clear message, nothing written', async (_, args, message) => {
    const dir = await setup()
    const before = await readdir(dir)
    const target = join(dir, 'part.db')
    const run = await runCli(['restore', 'app-db', '--to', target, ...args], { cwd: dir })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toMatch(message)
    expect(existsSync(target)).toBe(false)
    expect((await readdir(dir)).sort()).toEqual(before.sort())
  })
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
