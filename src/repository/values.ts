import type { Change, Row, Value } from '../model.js'

/**
 * The stored form of captured changes: JSON with every value tagged by its type, so that
 * integers beyond 2^53, reals (with -0 and infinities), text and bytes come back exactly.
 *   null → null, bigint → "i123", number → "r0.1", string → "t…", bytes → "b<base64>"
 */
export type StoredValue = string | null

export function encodeValue(value: Value): StoredValue {
  if (value === null) return null
  switch (typeof value) {
    case 'bigint':
      return `i${value}`
    case 'number':
      return `r${Object.is(value, -0) ? '-0' : value}`
    case 'string':
      return `t${value}`
    default:
      return `b${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`
  }
}

// Tags by character code: decoding runs once per value of every replayed change.
const tagInteger = 0x69 // i
const tagReal = 0x72 // r
const tagText = 0x74 // t
const tagBytes = 0x62 // b

export function decodeValue(stored: StoredValue): Value {
  if (stored === null) return null
  switch (stored.charCodeAt(0)) {
    case tagInteger:
      return BigInt(stored.slice(1))
    case tagReal:
      return Number(stored.slice(1))
    case tagText:
      return stored.slice(1)
    case tagBytes:
      return Buffer.from(stored.slice(1), 'base64')
    default:
      throw new Error(`unknown value tag ${JSON.stringify(stored[0])}`)
  }
}

/** A change as stored: [seq, time, table, op, rowid before, rowid after, before, after]. */
export type StoredChange = [
  number,
  number,
  string,
  Change['op'],
  StoredValue,
  StoredValue,
  Record<string, StoredValue> | null,
  Record<string, StoredValue> | null,
]

const encodeRow = (row: Row | null) =>
  row === null ? null : Object.fromEntries(Object.entries(row).map(([k, v]) => [k, encodeValue(v)]))
function decodeRow(row: Record<string, StoredValue> | null): Row | null {
  if (row === null) return null
  const decoded: Row = {}
  for (const column in row) decoded[column] = decodeValue(row[column]!)
  return decoded
}

export function encodeChange(c: Change): StoredChange {
  return [
    c.seq,
    c.time,
    c.table,
    c.op,
    c.rowid ? encodeValue(c.rowid.before) : null,
    c.rowid ? encodeValue(c.rowid.after) : null,
    encodeRow(c.before),
    encodeRow(c.after),
  ]
}

export function decodeChange(s: StoredChange): Change {
  const [seq, time, table, op, rowidBefore, rowidAfter, before, after] = s
  const change: Change = { seq, time, table, op, before: decodeRow(before), after: decodeRow(after) }
  // A rowid table's change always has a rowid on at least one side.
  if (rowidBefore !== null || rowidAfter !== null) {
    change.rowid = { before: decodeValue(rowidBefore), after: decodeValue(rowidAfter) }
  }
  return change
}
