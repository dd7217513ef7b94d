import { PlanError } from '../../errors.js'
import type { Row, Value } from '../../model.js'
import { openContext } from '../../ops/context.js'
import { type DiffRequest, type DiffResult, diff } from '../../ops/diff.js'
import { encodeJsonRow, encodeJsonValue, type NetChange } from '../../timeline/index.js'
import { parseMoment } from '../../timeline/moment.js'
import type { Command, Options, ParsedArgs } from '../command.js'
import { requiredPositional, stringFlag } from '../flags.js'
import { formatTable } from '../output.js'

const usage = 'drkit diff RESOURCE --from TIME --to TIME [--tables T1,T2] [--where SQL] [--json]'

/** The flags diff and undo share, and their help. */
export const windowOptions: Options = {
  from: { type: 'string' },
  to: { type: 'string' },
  tables: { type: 'string' },
  where: { type: 'string' },
}

export const windowHelp =
  'TIME is ISO 8601 (2026-02-27T10:00:00Z) or relative to now (--from=-15m); each stands for the state of\n' +
  'the last transaction committed by then. Both must lie in one generation of the recoverable window\n' +
  '(drkit timeline).\n' +
  'Rows are identified by rowid, or by primary key in WITHOUT ROWID tables (PostgreSQL: by primary key,\n' +
  'else by replica identity index, else by all their columns); a change of rowid or key counts as a delete\n' +
  'of the old row and an insert of the new one.\n' +
  '--tables T1,T2 keeps to these tables. --where SQL keeps the rows whose state at --from or at --to matches\n' +
  "the condition (over the row's own columns), in every table that has the columns it names; tables lacking\n" +
  'them are not filtered, and are named.\n' +
  'With --json, values are lossless: NULL null, TEXT a string, INTEGER a number (beyond 2^53: {"$int": "…"}),\n' +
  'REAL a number with a fraction (whole, infinite or -0: {"$real": "…"}), BLOB {"$bytes": "<base64>"};\n' +
  'PostgreSQL values are their text forms (as COPY writes them), NULL null.'

/** Reads --from, --to, --tables and --where; both moments relative to one `now`. */
export function windowRequest(resource: string, { values }: ParsedArgs, usage: string): DiffRequest {
  const from = stringFlag(values.from)
  const to = stringFlag(values.to)
  if (!from || !to) throw new PlanError('give the window as --from TIME and --to TIME', `Usage: ${usage}`)
  const now = Date.now()
  const tables = stringFlag(values.tables)
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
  return { resource, from: parseMoment(from, now), to: parseMoment(to, now), tables, where: stringFlag(values.where) }
}

const command: Command = {
  summary: 'list the rows that changed between two moments, with their state at each',
  usage,
  help:
    'Net of what happened in between: a row inserted and deleted inside the window, or changed and\n' +
    'changed back, is not listed.\n' +
    windowHelp,
  options: windowOptions,
  async run(args, { out, config }) {
    const resource = requiredPositional(args.positionals, 'RESOURCE', usage)
    const request = windowRequest(resource, args, usage)
    const ctx = await openContext({ config })
    try {
      const result = await diff(ctx, request)
      for (const line of windowNotes(result)) out.warn(line)
      const doc = { ...windowDocument(result), rows: result.rows.map(rowDocument) }
      out.result(doc, () =>
        [windowTitle(result, `${count(result.rows.length, 'row')} changed`), ...byTable(result.rows)].join('\n'),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command

export function windowDocument(r: Omit<DiffResult, 'rows'>) {
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    resource: r.resource,
    generation: r.generation,
    from: iso(r.from.time),
    to: iso(r.to.time),
    fromSeq: r.from.seq,
    toSeq: r.to.seq,
    unfiltered: r.unfiltered,
    dropped: r.dropped,
  }
}

export function windowTitle(r: Omit<DiffResult, 'rows'>, what: string): string {
  const at = (b: { seq: number; time: number }) => `${new Date(b.time).toISOString()} (change ${b.seq})`
  return `${r.resource}: ${what} between ${at(r.from)} and ${at(r.to)}`
}

export function windowNotes(r: Omit<DiffResult, 'rows'>): string[] {
  return [
    ...r.unfiltered.map(
      (t) => `--where does not apply to ${t} (it lacks a column the condition names): all its rows are included`,
    ),
    ...r.dropped.map((t) => `${t} changed in the window but is no longer in the database: left out`),
  ]
}

function rowDocument(n: NetChange) {
  return {
    table: n.table,
    op: n.op,
    key: encodeJsonRow(n.key),
    before: encodeJsonRow(n.before),
    after: encodeJsonRow(n.after),
  }
}

function byTable(rows: NetChange[]): string[] {
  const lines: string[] = []
  for (const table of new Set(rows.map((r) => r.table))) {
    const mine = rows.filter((r) => r.table === table)
    lines.push('', `${table} (${count(mine.length, 'row')})`)
    const cells = mine.map((r) => [r.op, formatKey(r.key), formatChange(r.before, r.after)])
    lines.push(
      ...formatTable(['op', 'key', 'columns'], cells)
        .split('\n')
        .map((l) => `  ${l}`),
    )
  }
  return lines
}

/** `1 row`, `2 rows`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

export function formatKey(key: Row): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(', ')
}

/** The columns that differ, `before → after`; every column of an inserted or deleted row. */
export function formatChange(before: Row | null, after: Row | null): string {
  if (!before || !after) {
    return Object.entries((before ?? after)!)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(', ')
  }
  return Object.keys({ ...before, ...after })
    .filter((k) => comparable(before[k]) !== comparable(after[k]))
    .map((k) => `${k}: ${formatValue(before[k] ?? null)} → ${formatValue(after[k] ?? null)}`)
    .join(', ')
}

const comparable = (v: Value | undefined) => JSON.stringify(v === undefined ? '∅' : encodeJsonValue(v))

/** A value as SQL would write it, shortened: --json has the exact values. */
function formatValue(v: Value): string {
  if (v === null) return 'NULL'
  if (typeof v === 'bigint') return String(v)
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(1) : String(v)
  if (typeof v === 'string') {
    const short = v.length > 40 ? `${v.slice(0, 39)}…` : v
    return `'${short.replaceAll("'", "''").replaceAll('\n', '\\n')}'`
  }
  const hex = Buffer.from(v.buffer, v.byteOffset, Math.min(v.byteLength, 16)).toString('hex').toUpperCase()
  return `X'${hex}'${v.byteLength > 16 ? `… (${v.byteLength} bytes)` : ''}`
}
