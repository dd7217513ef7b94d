import { InternalError } from '../../errors.js'

/**
 * A decoder for the messages of PostgreSQL's `pgoutput` plugin, protocol version 1, as
 * `pg_logical_slot_peek_binary_changes` returns them (one message per row). Column
 * values arrive in text form: 't' text, 'n' null, 'u' an unchanged TOASTed value that
 * the server did not send.
 */

/** A column value: its text form, null, or `unchanged` (TOASTed and not sent). */
export type TupleValue = string | null | typeof unchanged
export const unchanged: unique symbol = Symbol('unchanged TOAST value')

export interface Relation {
  id: number
  schema: string
  name: string
  /** pg_class.relreplident. */
  replicaIdentity: string
  columns: { name: string; key: boolean }[]
}

export type Message =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relation: number; after: TupleValue[] }
  | { tag: 'update'; relation: number; before?: { kind: 'key' | 'old'; values: TupleValue[] }; after: TupleValue[] }
  | { tag: 'delete'; relation: number; before: { kind: 'key' | 'old'; values: TupleValue[] } }
  | { tag: 'truncate'; relations: number[]; cascade: boolean }
  | { tag: 'other' }

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const pgEpochMicros = 946_684_800_000_000n

/** A PostgreSQL timestamp (µs since 2000-01-01) in µs since the Unix epoch. */
export function unixMicros(pgTime: bigint): bigint {
  return pgTime + pgEpochMicros
}

class Reader {
  private at = 0
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    return this.buf.readUInt8(this.at++)
  }
  char(): string {
    return String.fromCharCode(this.byte())
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.at)
    this.at += 2
    return v
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at)
    this.at += 4
    return v
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.at)
    this.at += 4
    return v
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.at)
    this.at += 8
    return v
  }
  string(): string {
    const end = this.buf.indexOf(0, this.at)
    const s = this.buf.toString('utf8', this.at, end)
    this.at = end + 1
    return s
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.at, this.at + n)
    this.at += n
    return b
  }
  tuple(): TupleValue[] {
    const n = this.int16()
    const values: TupleValue[] = []
    for (let i = 0; i < n; i++) {
      const kind = this.char()
      if (kind === 'n') values.push(null)
      else if (kind === 'u') values.push(unchanged)
      else if (kind === 't') values.push(this.bytes(this.int32()).toString('utf8'))
      else throw new InternalError(`pgoutput: unexpected column kind ${JSON.stringify(kind)}`)
    }
    return values
  }
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf)
  const tag = r.char()
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.int64(), commitTime: r.int64(), xid: r.uint32() }
    case 'C': {
      r.byte()
      return { tag: 'commit', commitLsn: r.int64(), endLsn: r.int64(), commitTime: r.int64() }
    }
    case 'R': {
      const id = r.uint32()
      const schema = r.string()
      const name = r.string()
      const replicaIdentity = r.char()
      const n = r.int16()
      const columns: Relation['columns'] = []
      for (let i = 0; i < n; i++) {
        const flags = r.byte()
        const column = r.string()
        r.int32()
        r.int32()
        columns.push({ name: column, key: (flags & 1) === 1 })
      }
      return { tag: 'relation', relation: { id, schema, name, replicaIdentity, columns } }
    }
    case 'I': {
      const relation = r.uint32()
      r.char()
      return { tag: 'insert', relation, after: r.tuple() }
    }
    case 'U': {
      const relation = r.uint32()
      let kind = r.char()
      let before: { kind: 'key' | 'old'; values: TupleValue[] } | undefined
      if (kind === 'K' || kind === 'O') {
        before = { kind: kind === 'K' ? 'key' : 'old', values: r.tuple() }
        kind = r.char()
      }
      return { tag: 'update', relation, ...(before ? { before } : {}), after: r.tuple() }
    }
    case 'D': {
      const relation = r.uint32()
      const kind = r.char()
      return { tag: 'delete', relation, before: { kind: kind === 'K' ? 'key' : 'old', values: r.tuple() } }
    }
    case 'T': {
      const n = r.int32()
      const options = r.byte()
      const relations: number[] = []
      for (let i = 0; i < n; i++) relations.push(r.uint32())
      return { tag: 'truncate', relations, cascade: (options & 1) === 1 }
    }
    default:
      return { tag: 'other' }
  }
}

/** An LSN (`16/B374D848`) as a number; LSNs stay far below 2^53 in practice (8 PiB of WAL). */
export function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/')
  return Number.parseInt(hi!, 16) * 2 ** 32 + Number.parseInt(lo!, 16)
}

export function numberToLsn(n: number | bigint): string {
  const v = BigInt(n)
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`
}
