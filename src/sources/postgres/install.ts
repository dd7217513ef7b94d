import { createHash, randomBytes } from 'node:crypto'
import { DrkitError } from '../../errors.js'
import { displayName, listTables, quotedName, schemaDigest } from './catalog.js'
import { ident, literal, type PgClient } from './connect.js'
import type { Mark } from './slot.js'

/**
 * What capture installs in a database: a publication and a logical replication slot named
 * after the resource, and one row in `_drkit.capture` holding the generation, the schema
 * digest it was installed for and the numbering mark (see slot.ts).
 */

export const stateTable = '_drkit.capture'

export interface CaptureNames {
  slot: string
  publication: string
}

/**
 * Slot and publication names: lower-case letters, digits and underscores, at most 63 bytes.
 * Slots are per server, not per database: the slot's name carries a hash of the database's
 * name too, so two databases with a resource of the same name do not collide.
 */
export function captureNames(resource: string, database: string): CaptureNames {
  const base = `drkit_${resource.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 50)
  const hash = createHash('sha256').update(`${database}\0${resource}`).digest('hex').slice(0, 8)
  return { slot: `${base}_${hash}`, publication: base }
}

export interface InstalledState {
  generation: string
  digest: string
  mark: Mark
}

/** The installed capture's row, or undefined when capture is not installed (or half removed). */
export async function readState(client: PgClient, names: CaptureNames): Promise<InstalledState | undefined> {
  // Checked first: a failing query would abort the caller's transaction (a snapshot's, for one).
  const table = await client.query<{ found: boolean }>(
    `SELECT to_regclass(${literal(stateTable)}) IS NOT NULL AS found`,
  )
  if (!table.rows[0]?.found) return undefined
  const { rows } = await client.query<{ generation: string; digest: string; lsn: string; seq: string }>(
    `SELECT generation, digest, lsn::text, seq::text FROM ${stateTable} WHERE slot = $1
       AND EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database())`,
    [names.slot],
  )
  const row = rows[0]
  if (!row) return undefined
  return { generation: row.generation, digest: row.digest, mark: { lsn: Number(row.lsn), seq: Number(row.seq) } }
}

/** Checks what logical decoding needs, with messages that say which setting or right is missing. */
export async function checkCaptureRequirements(client: PgClient, resource: string): Promise<void> {
  const { rows } = await client.query<{ wal_level: string; replication: boolean; role: string }>(
    `SELECT current_setting('wal_level') AS wal_level, current_user AS role,
       (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replication`,
  )
  const { wal_level: walLevel, replication, role } = rows[0]!
  const problem = captureRequirementError(resource, { walLevel, replication, role })
  if (problem) throw problem
}

/** What keeps capture from working on a server with these settings, if anything (pure, for tests). */
export function captureRequirementError(
  resource: string,
  server: { walLevel: string; replication: boolean; role: string },
): DrkitError | undefined {
  if (server.walLevel !== 'logical') {
    return new DrkitError(
      `${resource}: change capture needs wal_level = logical, and the server has wal_level = ${server.walLevel}`,
      'Set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL; ' +
        'snapshot backups (`drkit backup`) work without it.',
    )
  }
  if (!server.replication) {
    return new DrkitError(
      `${resource}: the role ${server.role} has no REPLICATION right, which change capture needs`,
      `Grant it (ALTER ROLE ${server.role} REPLICATION) or use a role that has it; ` +
        'snapshot backups (`drkit backup`) work without it.',
    )
  }
  return undefined
}

/**
 * Installs capture from scratch: publication first (decoding looks it up as of each
 * change), then the slot, then the state row anchored at the slot's start. Tables without
 * a primary key get REPLICA IDENTITY FULL, or PostgreSQL would reject their UPDATE and
 * DELETE statements once they are published; each one is named in the warnings.
 */
export async function installCapture(
  client: PgClient,
  names: CaptureNames,
  resource: string,
): Promise<{ state: InstalledState; warnings: string[] }> {
  await checkCaptureRequirements(client, resource)
  await dropCapture(client, names)
  const all = await listTables(client)
  const tables = all.filter((t) => !t.unlogged)
  const warnings = all
    .filter((t) => t.unlogged)
    .map(
      (t) =>
        `table ${displayName(t)} is unlogged: logical decoding cannot see its changes, ` +
        'so point-in-time restores show it as of the snapshot they start from',
    )
  for (const t of tables) {
    if (t.key.length === 0 && t.replicaIdentity !== 'f' && t.replicaIdentity !== 'i') {
      await client.query(`ALTER TABLE ${quotedName(t)} REPLICA IDENTITY FULL`)
      warnings.push(
        `table ${displayName(t)} has no primary key: drkit set REPLICA IDENTITY FULL on it so that its updates and ` +
          'deletes can be published (each one now logs the whole old row)',
      )
    }
  }
  await client.query('CREATE SCHEMA IF NOT EXISTS _drkit')
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${stateTable} (slot text PRIMARY KEY, generation text NOT NULL,
       digest text NOT NULL, lsn bigint NOT NULL, seq bigint NOT NULL)`,
  )
  const list = tables.map(quotedName).join(', ')
  await client.query(`CREATE PUBLICATION ${ident(names.publication)}${list ? ` FOR TABLE ${list}` : ''}`)
  const digest = await schemaDigest(client)
  const { rows } = await client.query<{ lsn: string }>(
    `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
    [names.slot],
  )
  const mark = { lsn: lsnNumber(rows[0]!.lsn), seq: 0 }
  const generation = newGeneration()
  await client.query(`INSERT INTO ${stateTable} (slot, generation, digest, lsn, seq) VALUES ($1, $2, $3, $4, 0)`, [
    names.slot,
    generation,
    digest,
    mark.lsn,
  ])
  return { state: { generation, digest, mark }, warnings }
}

/** Drops the slot, the publication and the state row; what is already gone is no error. */
export async function dropCapture(client: PgClient, names: CaptureNames): Promise<void> {
  await client.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [names.slot],
  )
  await client.query(`DROP PUBLICATION IF EXISTS ${ident(names.publication)}`)
  const exists = await client.query(`SELECT to_regclass(${literal(stateTable)}) IS NOT NULL AS found`)
  if (exists.rows[0]?.found) {
    await client.query(`DELETE FROM ${stateTable} WHERE slot = $1`, [names.slot])
    const left = await client.query(`SELECT count(*)::int AS n FROM ${stateTable}`)
    if (left.rows[0]?.n === 0) await client.query('DROP SCHEMA _drkit CASCADE')
  }
}

function lsnNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/')
  return Number.parseInt(hi!, 16) * 2 ** 32 + Number.parseInt(lo!, 16)
}

/** Generation ids sort by the time they began. */
function newGeneration(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '')
  return `${stamp}-${randomBytes(3).toString('hex')}`
}
