import type { Boundary, Change } from '../../model.js'
import type { Capture, CaptureRead } from '../source.js'
import { schemaDigest } from './catalog.js'
import { connect, databaseOf, type PgClient } from './connect.js'
import { captureNames, dropCapture, installCapture, readState, stateTable } from './install.js'
import { lsnToNumber, numberToLsn } from './pgoutput.js'
import {
  boundaryOf,
  type DecodedTx,
  decodeSlot,
  type Mark,
  SlotDecoder,
  type SlotEvents,
  whileSlotBusy,
} from './slot.js'

/**
 * Change capture through logical decoding (`pgoutput`). Reads peek at the slot without
 * consuming it; `acknowledge` moves the numbering mark, then advances the slot, so the
 * server keeps every change until the repository holds it. Every commit is an exact
 * boundary (its last change, at its commit time). DDL is not decoded: a schema digest
 * taken at install is compared on every read, and a difference ends the generation.
 */
export function openPostgresCapture(url: string, resource: string): Capture {
  const names = captureNames(resource, databaseOf(url))
  let client: Promise<PgClient> | undefined
  const db = () => {
    client ??= connect(url, resource)
    return client
  }
  /** End LSNs of the transactions of the last read, by their last seq, for acknowledge. */
  let ends = new Map<number, number>()
  let lastBoundaryTime = 0
  /** Reads decode on their own connection: a pass stopped inside a transaction keeps its cursor open there. */
  let reader: Promise<PgClient> | undefined
  let held: Pass | undefined

  async function openPass(
    generation: string,
    mark: Mark,
    now: { lsn: string; time: number },
    after: number,
    budget: number | undefined,
  ): Promise<Pass> {
    reader ??= connect(url, resource)
    const decoder = await SlotDecoder.open(await reader, {
      ...names,
      mark,
      uptoLsn: now.lsn,
      uptoMessages: budget,
      changesAfter: after,
    })
    return { generation, decoder, now, budget: budget ?? Number.POSITIVE_INFINITY }
  }

  async function closeHeld(): Promise<void> {
    const pass = held
    held = undefined
    await pass?.decoder.close()
  }

  return {
    async install() {
      const c = await db()
      const found = await readState(c, names)
      if (found) return { generation: found.generation, seq: found.mark.seq, installed: false, warnings: [] }
      const { state, warnings } = await installCapture(c, names, resource)
      return { generation: state.generation, seq: 0, installed: true, warnings }
    },

    async position() {
      const c = await db()
      // Another process (the agent) may acknowledge meanwhile: the mark must not move while the slot is read.
      for (;;) {
        const state = await readState(c, names)
        if (!state) return undefined
        const now = await provenPoint(c)
        let last: DecodedTx | undefined
        await decodeSlot(c, { ...names, mark: state.mark, uptoLsn: now.lsn }, (tx) => {
          last = tx
        })
        const after = await readState(c, names)
        if (after?.mark.lsn !== state.mark.lsn) continue
        return { generation: state.generation, boundary: proven(last, state.mark.seq, now.time) }
      }
    },

    // Reads carry every commit's exact boundary, so polling has nothing to add.
    async poll() {
      return undefined
    },

    async read(generation, after, limit) {
      const c = await db()
      const state = await readState(c, names)
      const now = await provenPoint(c)
      if (!state || state.generation !== generation) {
        const detail = state
          ? `the database's capture generation is ${state.generation}, not ${generation}: capture was reinstalled`
          : 'capture is no longer installed in the database'
        return brokenRead(generation, now.time, 'reinstalled', detail)
      }
      const base = { generation, seq: state.mark.seq }
      if ((await schemaDigest(c)) !== state.digest) {
        return { ...brokenRead(generation, now.time, 'schema-change', 'the schema changed'), state: base }
      }
      const slot = await c.query<{ wal_status: string | null }>(
        'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [names.slot],
      )
      if (slot.rows[0]?.wal_status === 'lost') {
        return {
          ...brokenRead(generation, now.time, 'gap', `the server removed WAL that slot ${names.slot} still needed`),
          state: base,
        }
      }
      if (after < state.mark.seq) {
        const detail = `changes ${after + 1} to ${state.mark.seq} were acknowledged but are not in the repository`
        return { ...brokenRead(generation, now.time, 'gap', detail), state: base }
      }
      const changes: Change[] = []
      const boundaries: Boundary[] = []
      const txs = new Map<number, number>()
      const events: SlotEvents = {
        onTx: (tx) => {
          txs.set(tx.lastSeq, tx.endLsn)
          if (tx.lastSeq > after) boundaries.push(monotonic(boundaryOf(tx)))
          if (pass) pass.last = tx
        },
        onChange: (change) => changes.push(change),
        pauseBefore: () => changes.length >= limit,
      }
      // A read that stopped inside a transaction left its pass open: the next read goes on from there.
      let pass = held?.generation === generation && held.decoder.seq === after ? held : undefined
      if (!pass) {
        await closeHeld()
        // A message budget keeps the server from decoding a whole backlog for one read; a
        // budget spent on changes already shipped (not yet acknowledged) is lifted.
        const budget = (limit + (after - state.mark.seq)) * 4 + 1000
        pass = await openPass(generation, state.mark, now, after, budget)
      }
      held = undefined
      let outcome: 'end' | 'paused'
      try {
        outcome = await pass.decoder.run(events)
        if (outcome === 'end' && pass.decoder.messages >= pass.budget && changes.length === 0) {
          await pass.decoder.close()
          pass = await openPass(generation, state.mark, now, after, undefined)
          outcome = await pass.decoder.run(events)
        }
      } catch (err) {
        // The cursor's transaction must not outlive a failed read: the next read starts afresh.
        await pass.decoder.close()
        throw err
      }
      if (outcome === 'paused') held = pass
      else await pass.decoder.close()
      ends = txs
      const complete = outcome === 'end' && pass.decoder.messages < pass.budget
      if (complete && pass.last === undefined) await skipIdle(c, state.mark, pass.now.lsn)
      // A read that ends inside a transaction proves nothing new: its changes wait for their commit.
      const boundary = complete
        ? proven(pass.last, state.mark.seq, pass.now.time)
        : (boundaries.at(-1) ?? { seq: state.mark.seq, time: lastBoundaryTime })
      return {
        state: { generation, seq: pass.last?.lastSeq ?? state.mark.seq },
        boundary,
        boundaries,
        changes,
      } satisfies CaptureRead
    },

    async acknowledge(upTo) {
      const endLsn = ends.get(upTo)
      if (endLsn === undefined) return
      const c = await db()
      // The mark first: if the slot is not advanced (a crash), the next read skips what the mark covers.
      await c.query(`UPDATE ${stateTable} SET lsn = $2, seq = $3 WHERE slot = $1 AND lsn < $2`, [
        names.slot,
        endLsn,
        upTo,
      ])
      // A backup aligning its image may be reading the slot for a moment: wait for it.
      await whileSlotBusy(() =>
        c.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [names.slot, numberToLsn(endLsn)]),
      )
    },

    async lag() {
      const c = await db()
      const state = await readState(c, names)
      if (!state) return undefined
      const { rows } = await c.query<{ active: boolean; bytes: string }>(
        `SELECT active, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint::text AS bytes
           FROM pg_replication_slots WHERE slot_name = $1`,
        [names.slot],
      )
      const slot = rows[0]
      if (!slot) return undefined
      let oldest: bigint | undefined
      const now = await provenPoint(c)
      await decodeSlot(c, { ...names, mark: state.mark, uptoLsn: now.lsn, uptoMessages: 100 }, (tx) => {
        oldest ??= tx.commitMicros
      })
      const bytes = Number(slot.bytes)
      const seconds = oldest === undefined ? 0 : Math.max(0, Date.now() / 1000 - Number(oldest) / 1e6)
      const warning =
        bytes >= lagWarnBytes || seconds >= lagWarnSeconds
          ? `replication slot ${names.slot} of ${resource} holds back ${(bytes / 2 ** 20).toFixed(1)} MiB of WAL and ` +
            `its oldest unshipped change is ${seconds.toFixed(0)} s old: the server keeps WAL until drkit reads it. ` +
            `Is \`drkit agent\` running? If capture of ${resource} is abandoned, run \`drkit capture remove ${resource}\`.`
          : undefined
      return { bytes, seconds, active: slot.active, ...(warning ? { warning } : {}) }
    },

    async reinstall() {
      const c = await db()
      const { state } = await installCapture(c, names, resource)
      return { generation: state.generation, seq: 0 }
    },

    async remove() {
      await dropCapture(await db(), names)
    },

    async close() {
      await closeHeld().catch(() => {})
      for (const connection of [client, reader]) {
        const c = await connection?.catch(() => undefined)
        await c?.end().catch(() => {})
      }
    },
  }

  /**
   * Nothing to ship, yet the server's WAL moved on (other databases, unpublished tables):
   * the slot is advanced over it now and then, or it would hold that WAL back forever.
   */
  async function skipIdle(c: PgClient, mark: { lsn: number; seq: number }, lsn: string): Promise<void> {
    const to = lsnToNumber(lsn)
    if (to - mark.lsn < idleAdvanceBytes) return
    await c.query(`UPDATE ${stateTable} SET lsn = $2 WHERE slot = $1 AND lsn < $2 AND seq = $3`, [
      names.slot,
      to,
      mark.seq,
    ])
    await whileSlotBusy(() => c.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [names.slot, lsn]))
  }

  function monotonic(b: Boundary): Boundary {
    lastBoundaryTime = Math.max(lastBoundaryTime, b.time)
    return { seq: b.seq, time: lastBoundaryTime }
  }

  /** The boundary proven after decoding everything up to now: the last change, and a time no later commit can precede. */
  function proven(last: DecodedTx | undefined, markSeq: number, nowMs: number): Boundary {
    const seq = last?.lastSeq ?? markSeq
    const at = Math.max(last ? boundaryOf(last).time : 0, nowMs)
    return monotonic({ seq, time: at })
  }
}

/** One pass over the slot for reads, kept open between reads while it stops inside a transaction. */
interface Pass {
  generation: string
  decoder: SlotDecoder
  /** The proven point the pass decodes up to. */
  now: { lsn: string; time: number }
  /** The message budget it was opened with (infinite: none). */
  budget: number
  /** The last transaction it saw commit. */
  last?: DecodedTx
}

/** A slot holding back this much WAL, or an unshipped change this old, is worth a warning. */
const lagWarnBytes = 2 ** 30
const lagWarnSeconds = 300

/** How far the WAL may move past an idle capture before its slot is advanced over it. */
const idleAdvanceBytes = 16 * 2 ** 20

/** How much earlier than the clock reading a proven boundary is put: a commit takes its time just before its WAL record. */
const clockMarginMs = 5

/**
 * The server's insert LSN and clock, read together, once the WAL up to that LSN is flushed
 * (decoding reads only flushed WAL). Any commit after the LSN took its time after `time`.
 */
async function provenPoint(c: PgClient): Promise<{ lsn: string; time: number }> {
  const { rows } = await c.query<{ lsn: string; ms: string }>(
    `SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms, pg_current_wal_insert_lsn()::text AS lsn`,
  )
  const { lsn, ms } = rows[0]!
  for (let i = 0; i < 200; i++) {
    const f = await c.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [lsn])
    if (f.rows[0]?.ok) break
    await new Promise((r) => setTimeout(r, 10))
  }
  return { lsn, time: Number(ms) - clockMarginMs }
}

function brokenRead(
  generation: string,
  time: number,
  reason: NonNullable<CaptureRead['broken']>['reason'],
  detail: string,
): CaptureRead {
  return { state: { generation, seq: 0 }, boundary: { seq: 0, time }, changes: [], broken: { reason, detail } }
}
