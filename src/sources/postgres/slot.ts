import type { Boundary, Change, Row } from '../../model.js'
import { displayName } from './catalog.js'
import type { PgClient } from './connect.js'
import { decodeMessage, lsnToNumber, type Relation, type TupleValue, unchanged, unixMicros } from './pgoutput.js'

/**
 * Reading a logical replication slot without consuming it, and numbering what it holds.
 *
 * Changes get dense sequence numbers (`seq`) in commit order. The numbering is anchored by
 * a mark kept in the database (`_drkit.capture`): the end LSN of the last transaction the
 * repository has stored, and the seq of its last change. Every read decodes from the slot's
 * confirmed position, skips transactions that end at or before the mark, and numbers the
 * rest from mark.seq + 1, so a re-read after a crash gives every change the same seq.
 * The mark is moved before the slot is advanced (see capture.ts: acknowledge).
 */

export interface Mark {
  /** End LSN of the last stored transaction (the slot's start when nothing was stored). */
  lsn: number
  /** The seq of that transaction's last change (0 at the start of a generation). */
  seq: number
}

export interface DecodedTx {
  xid: number
  commitLsn: number
  endLsn: number
  /** Commit time, µs since the Unix epoch. */
  commitMicros: bigint
  firstSeq: number
  lastSeq: number
}

export interface DecodeOptions {
  slot: string
  publication: string
  mark: Mark
  /** Decode transactions committed up to this LSN ('0/0'-style text). */
  uptoLsn: string
  /** Ask the server to stop after about this many messages (null: no limit). */
  uptoMessages?: number
  /** Build Change objects for changes with seq above this (see `SlotEvents.onChange`). */
  changesAfter?: number
}

export interface SlotEvents {
  /** A transaction after the mark committed; its changes went to `onChange` before. */
  onTx(tx: DecodedTx): void
  /** A change with seq above `changesAfter`, in commit order (only when `changesAfter` is set). */
  onChange?(change: Change): void
  /** Asked before each message that carries changes: true stops the decode there, to go on later. */
  pauseBefore?(): boolean
}

const fetchSize = 2000

/**
 * Decodes the slot from its confirmed position and calls `onTx` for each transaction after
 * the mark, in commit order. Returns how many messages the server sent (a caller that set
 * `uptoMessages` compares to know whether it read everything up to `uptoLsn`).
 */
export async function decodeSlot(
  client: PgClient,
  opts: DecodeOptions,
  onTx: (tx: DecodedTx) => void,
): Promise<number> {
  const decoder = await SlotDecoder.open(client, opts)
  try {
    await decoder.run({ onTx })
  } finally {
    await decoder.close()
  }
  return decoder.messages
}

/**
 * One pass over the slot, read forward through a cursor in steps: `run` can stop before a
 * message (inside a transaction, however large) and a later `run` goes on from there, so a
 * huge transaction is decoded once and handed over a bounded number of changes at a time.
 * The server materializes what the peek returns (spilling to disk) before the first row, so
 * the slot itself is free again while the cursor is read; the cursor's transaction stays
 * open until `close`, on a connection used for nothing else meanwhile.
 */
export class SlotDecoder {
  /** Messages the server sent so far. */
  messages = 0
  /** The seq of the last change numbered so far. */
  seq: number
  private readonly relations = new Map<number, Relation>()
  private tx: { xid: number; commitMicros: bigint; first: number; time: number } | undefined
  private rows: { data: Buffer }[] = []
  private next = 0
  private ended = false

  private constructor(
    private readonly client: PgClient,
    private readonly opts: DecodeOptions,
  ) {
    this.seq = opts.mark.seq
  }

  static async open(client: PgClient, opts: DecodeOptions): Promise<SlotDecoder> {
    return whileSlotBusy(async () => {
      const decoder = new SlotDecoder(client, opts)
      try {
        await client.query('BEGIN')
        await client.query(
          `DECLARE drkit_slot NO SCROLL CURSOR FOR SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2, $3,
            'proto_version', '1', 'publication_names', $4)`,
          [opts.slot, opts.uptoLsn, opts.uptoMessages ?? null, opts.publication],
        )
        await decoder.fetch()
        return decoder
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      }
    })
  }

  /** Decodes on until the slot has nothing more up to `uptoLsn` ('end') or `pauseBefore` says stop ('paused'). */
  async run(events: SlotEvents): Promise<'end' | 'paused'> {
    for (;;) {
      while (this.next < this.rows.length) {
        const m = decodeMessage(this.rows[this.next]!.data)
        const carriesChanges = m.tag === 'insert' || m.tag === 'update' || m.tag === 'delete' || m.tag === 'truncate'
        if (carriesChanges && this.tx && events.pauseBefore?.()) return 'paused'
        this.next++
        this.messages++
        this.take(m, events)
      }
      if (this.ended) return 'end'
      await this.fetch()
    }
  }

  /** Ends the cursor's transaction. It only read, so a failure here loses nothing: it is rolled back. */
  async close(): Promise<void> {
    await this.client.query('CLOSE drkit_slot; COMMIT').catch(() => this.client.query('ROLLBACK').catch(() => {}))
  }

  private async fetch(): Promise<void> {
    const { rows } = await this.client.query<{ data: Buffer }>(`FETCH ${fetchSize} FROM drkit_slot`)
    this.rows = rows
    this.next = 0
    this.ended = rows.length < fetchSize
  }

  private take(m: ReturnType<typeof decodeMessage>, events: SlotEvents): void {
    const { mark, changesAfter } = this.opts
    switch (m.tag) {
      case 'relation':
        this.relations.set(m.relation.id, m.relation)
        break
      case 'begin': {
        const commitMicros = unixMicros(m.commitTime)
        const skip = lsnToNumber(lsnText(m.finalLsn)) < mark.lsn
        this.tx = skip
          ? undefined
          : { xid: m.xid, commitMicros, first: this.seq + 1, time: Number(commitMicros / 1000n) }
        break
      }
      case 'commit': {
        const tx = this.tx
        const endLsn = lsnToNumber(lsnText(m.endLsn))
        if (tx && endLsn > mark.lsn && this.seq >= tx.first) {
          events.onTx({
            xid: tx.xid,
            commitLsn: lsnToNumber(lsnText(m.commitLsn)),
            endLsn,
            commitMicros: tx.commitMicros,
            firstSeq: tx.first,
            lastSeq: this.seq,
          })
        }
        this.tx = undefined
        break
      }
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate': {
        if (!this.tx) break
        for (const change of toChanges(m, this.relations, this.tx.time)) {
          change.seq = ++this.seq
          if (changesAfter !== undefined && change.seq > changesAfter) events.onChange?.(change)
        }
        break
      }
    }
  }
}

function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16)}/${(lsn & 0xffffffffn).toString(16)}`
}

type ChangeMessage = Extract<ReturnType<typeof decodeMessage>, { tag: 'insert' | 'update' | 'delete' | 'truncate' }>

/**
 * The changes one message makes. Row images hold text forms. An unchanged TOASTed value
 * (not sent) is taken from the old image when the table logs full old rows, and is left
 * out of the new image otherwise: a replay then leaves that column as it was.
 * A TRUNCATE is a delete with neither image: every row of the table goes.
 */
function toChanges(m: ChangeMessage, relations: Map<number, Relation>, time: number): Change[] {
  if (m.tag === 'truncate') {
    return m.relations.map((id) => ({
      seq: 0,
      time,
      table: displayName(relation(relations, id)),
      op: 'delete' as const,
      before: null,
      after: null,
    }))
  }
  const rel = relation(relations, m.relation)
  const table = displayName(rel)
  if (m.tag === 'insert') return [{ seq: 0, time, table, op: 'insert', before: null, after: image(rel, m.after) }]
  if (m.tag === 'delete') return [{ seq: 0, time, table, op: 'delete', before: oldImage(rel, m.before), after: null }]
  const before = m.before ? oldImage(rel, m.before) : keyOf(rel, m.after)
  const after = image(rel, m.after, m.before?.kind === 'old' ? m.before.values : undefined)
  return [{ seq: 0, time, table, op: 'update', before, after }]
}

function relation(relations: Map<number, Relation>, id: number): Relation {
  const rel = relations.get(id)
  if (!rel) throw new Error(`pgoutput sent a change for relation ${id} before describing it`)
  return rel
}

function image(rel: Relation, values: TupleValue[], old?: TupleValue[]): Row {
  const row: Row = {}
  rel.columns.forEach((c, i) => {
    let v = values[i]
    if (v === unchanged && old) v = old[i]
    if (v !== unchanged && v !== undefined) row[c.name] = v
  })
  return row
}

function oldImage(rel: Relation, before: { kind: 'key' | 'old'; values: TupleValue[] }): Row {
  if (before.kind === 'old') return image(rel, before.values)
  return keyOf(rel, before.values)
}

function keyOf(rel: Relation, values: TupleValue[]): Row {
  const row: Row = {}
  rel.columns.forEach((c, i) => {
    const v = values[i]
    if (c.key && v !== unchanged && v !== undefined) row[c.name] = v
  })
  return row
}

/** The boundary a transaction proves: its last change, at its commit time rounded up to the millisecond. */
export function boundaryOf(tx: DecodedTx): Boundary {
  return { seq: tx.lastSeq, time: Number((tx.commitMicros + 999n) / 1000n) }
}

/**
 * Runs `action` again while another session (an agent, a backup aligning its image) holds the
 * slot: PostgreSQL lets one session at a time read or advance it (SQLSTATE 55006). Up to 30 s.
 */
export async function whileSlotBusy<T>(action: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action()
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 600) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
