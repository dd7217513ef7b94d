/**
 * PostgreSQL for the integration tests (127.0.0.1:5432, user postgres): throwaway databases
 * named drkit_t_<random>, dropped with their replication slots when the test finishes,
 * plans for a postgres resource, a seed of every common type, and fingerprints.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { onTestFinished } from 'vitest'
import { fingerprintPostgres } from '../../src/sources/postgres/fingerprint.js'
import type { Fingerprint } from '../../src/sources/source.js'

export const pgServer = 'postgres://postgres@127.0.0.1:5432'
export const pgUrl = (db: string) => `${pgServer}/${db}`

export async function pgClient(db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pgUrl(db) })
  c.on('error', () => {})
  await c.connect()
  await c.query(
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3",
  )
  return c
}

/** A throwaway database name, dropped (with any slot in it) when the test finishes; not created. */
export function throwawayName(): string {
  const name = `drkit_t_${randomBytes(5).toString('hex')}`
  onTestFinished(() => dropDatabase(name))
  return name
}

/** Creates a throwaway database and returns a client on it (closed when the test finishes). */
export async function testDatabase(): Promise<{ name: string; url: string; client: pg.Client }> {
  const name = throwawayName()
  const admin = await pgClient('postgres')
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const client = await pgClient(name)
  onTestFinished(() => client.end().catch(() => {}))
  return { name, url: pgUrl(name), client }
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = await pgClient('postgres')
  try {
    const slots = await admin.query('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [name])
    for (const s of slots.rows) {
      await admin.query('SELECT pg_drop_replication_slot($1)', [s.slot_name]).catch(() => {})
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

/** Writes drkit.yaml with one postgres resource `main` on `url`, repository ./repo. */
export async function writePgPlan(dir: string, url: string, extra = ''): Promise<void> {
  await writeFile(
    join(dir, 'drkit.yaml'),
    `repository: ./repo\nresources:\n  main:\n    type: postgres\n    url: ${url}\n${extra}`,
  )
}

export async function fingerprintOf(db: string, tables?: string[]): Promise<Fingerprint> {
  const c = await pgClient(db)
  try {
    return await fingerprintPostgres(c, tables)
  } finally {
    await c.end()
  }
}

/** Tables with every common type, a partitioned table, identity and generated columns, a table without a key. */
export const typeMatrixSchema = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
  CREATE TYPE pair AS (a integer, b text);
  CREATE TABLE everything (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    big numeric(60, 30), huge bigint, at timestamptz, span interval, doc jsonb, tags text[], raw bytea,
    uid uuid, feeling mood, feelings mood[], amount positive, two pair, period tstzrange, ints int4range,
    label text, halved bigint GENERATED ALWAYS AS (huge / 2) STORED, f8 double precision, r4 real
  );
  CREATE TABLE serials (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
  CREATE TABLE nokey (a integer, b text);
  CREATE TABLE orders (id integer, region text, total numeric, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
  CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
  CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
  CREATE TABLE refs (id integer PRIMARY KEY, serial_id integer REFERENCES serials (id));
  CREATE INDEX everything_label ON everything (label);
  CREATE VIEW happy AS SELECT id, label FROM everything WHERE feeling = 'happy';
  CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := NEW.name; RETURN NEW; END $$;
  CREATE TRIGGER serials_touch BEFORE UPDATE ON serials FOR EACH ROW EXECUTE FUNCTION touch();
`

/** Rows of every type; `n` distinguishes seeds. */
export function typeMatrixRows(n: number): string {
  return `
  INSERT INTO everything (big, huge, at, span, doc, tags, raw, uid, feeling, feelings, amount, two, period, ints, label, f8, r4)
  VALUES
    (123456789012345678901234567890.123456789012345678901234567891, 9223372036854775807 - ${n}, '2026-02-27 10:00:00.123456+01',
     '1 year 2 mons 3 days 04:05:06.789', '{"a": [1, 2.50, {"b": null}], "z": "é x"}'::text::jsonb, ARRAY['a', NULL, 'c,d', ''],
     '\\x00ff10'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', ARRAY['sad', 'ok']::mood[], 7, ROW(1, 'x y'),
     tstzrange('2026-01-01', '2026-02-01', '[)'), int4range(1, 10), 'first ${n}', 0.1, 3.4028235e38),
    (-0.000000000000000000000000000001, -9223372036854775808, 'infinity', '-00:00:00.000001', 'null', '{}', '', NULL, 'sad',
     '{}', 1, ROW(NULL, ''), 'empty', NULL, '', '-0', 'NaN'),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', 1.17549435e-38);
  INSERT INTO serials (name) SELECT 'name ' || g || ' ${n}' FROM generate_series(1, 50) g;
  INSERT INTO nokey VALUES (1, 'one'), (1, 'one'), (NULL, ''), (2, NULL);
  INSERT INTO orders VALUES (${n}, 'eu', 10.5), (${n}, 'us', 99.99);
  INSERT INTO refs VALUES (${n}, 1);
`
}
