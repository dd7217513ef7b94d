/**
 * PostgreSQL lets one session at a time use a replication slot. A backup aligning its image
 * decodes the agent's slot for a moment; an agent that acknowledged its changes just then
 * failed (SQLSTATE 55006), after it had moved the mark but before it counted the changes as
 * shipped, and its next read saw a gap that was not there and started a new generation.
 */
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { openPostgresCapture } from '../../src/sources/postgres/capture.js'
import { captureNames } from '../../src/sources/postgres/install.js'
import { testDatabase } from '../support/postgres.js'

describe('postgres capture while another session holds the slot', () => {
  test('acknowledging waits for the slot, then moves the mark and the slot together', async () => {
    const src = await testDatabase()
    await src.client.query('CREATE TABLE t (id int PRIMARY KEY)')
    const capture = openPostgresCapture(src.url, 'main')
    // A replication connection streaming from the slot holds it until it goes away.
    const holder = new pg.Client({ connectionString: src.url, replication: 'database' } as pg.ClientConfig)
    try {
      const { generation } = await capture.install()
      await src.client.query('INSERT INTO t SELECT generate_series(1, 100)')
      const read = await capture.read(generation, 0, 1000)
      expect(read.boundary.seq).toBe(100)

      const { slot, publication } = captureNames('main', src.name)
      await holder.connect()
      holder
        .query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${publication}')`)
        .catch(() => undefined)
      const active = async () =>
        (await src.client.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.active
      for (let i = 0; i < 100 && !(await active()); i++) await new Promise((r) => setTimeout(r, 20))
      expect(await active()).toBe(true)

      const confirmed = async () =>
        (
          await src.client.query(
            'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          )
        ).rows[0]?.lsn
      const before = await confirmed()
      let acknowledged = false
      const acknowledging = capture.acknowledge(100).then(() => {
        acknowledged = true
      })
      await new Promise((r) => setTimeout(r, 300))
      expect(acknowledged).toBe(false)
      await holder.end().catch(() => undefined)
      await acknowledging

      expect(await confirmed()).not.toBe(before)
      const next = await capture.read(generation, 100, 1000)
      expect(next.broken).toBeUndefined()
      expect(next.changes).toEqual([])
      expect(next.state.seq).toBe(100)
    } finally {
      await holder.end().catch(() => undefined)
      await capture.close()
    }
  })
})
