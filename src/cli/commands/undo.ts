import { openContext } from '../../ops/context.js'
import { type UndoResult, undo } from '../../ops/undo.js'
import { encodeJsonRow } from '../../timeline/index.js'
import type { Command } from '../command.js'
import { requiredPositional } from '../flags.js'
import { formatTable } from '../output.js'
import {
  count,
  formatChange,
  formatKey,
  windowDocument,
  windowHelp,
  windowNotes,
  windowOptions,
  windowRequest,
  windowTitle,
} from './diff.js'

const usage = 'drkit undo RESOURCE --from TIME --to TIME [--dry-run] [--force] [--tables T1,T2] [--where SQL] [--json]'

const command: Command = {
  summary: 'put the rows changed between two moments back to their state at the first, in the live database',
  usage,
  help:
    'Writes in one transaction, as an application write: the database triggers fire and capture records it.\n' +
    'A row changed again after --to (the live row is not its state at --to) is a conflict: listed and left\n' +
    'alone, unless --force. Before writing, undo sets a bookmark (undo-<UTC time>): restoring it, or undoing\n' +
    'from it to a moment after the undo, gives back the state before the undo. --dry-run writes nothing.\n' +
    'Exit status 0 also when there are conflicts; 1 when the transaction failed (nothing was changed).\n' +
    windowHelp,
  options: { ...windowOptions, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' } },
  async run(args, { out, config }) {
    const resource = requiredPositional(args.positionals, 'RESOURCE', usage)
    const request = windowRequest(resource, args, usage)
    const ctx = await openContext({ config })
    try {
      const result = await undo(ctx, {
        ...request,
        dryRun: args.values['dry-run'] === true,
        force: args.values.force === true,
      })
      for (const line of windowNotes(result)) out.warn(line)
      const doc = {
        ...windowDocument(result),
        dryRun: result.dryRun,
        force: result.force,
        bookmark: result.bookmark ?? null,
        restored: result.restored,
        unchanged: result.unchanged,
        writes: result.writes.map((w) => ({
          ...w,
          key: encodeJsonRow(w.key),
          ...('row' in w ? { row: encodeJsonRow(w.row) } : {}),
        })),
        conflicts: result.conflicts.map((c) => ({
          table: c.table,
          key: encodeJsonRow(c.key),
          before: encodeJsonRow(c.before),
          after: encodeJsonRow(c.after),
          live: encodeJsonRow(c.live),
        })),
      }
      out.result(doc, () => describe(result))
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command

function describe(r: UndoResult): string {
  const { insert, update, delete: deleted } = r.restored
  const unchanged = r.unchanged > 0 ? ` (${count(r.unchanged, 'row')} already as they were)` : ''
  const lines = [
    `${windowTitle(r, r.dryRun ? 'would undo the changes' : 'undid the changes')}: ` +
      `${count(update, 'row')} updated back, ${insert} re-inserted, ${deleted} deleted${unchanged}`,
  ]
  if (r.bookmark) lines.push(`bookmark ${r.bookmark} holds the state before the undo`)
  if (r.conflicts.length > 0) {
    const fate = r.force ? 'overwritten (--force)' : 'left alone (--force overwrites them)'
    lines.push('', `${count(r.conflicts.length, 'conflict')}, rows changed again after --to: ${fate}`)
    const cells = r.conflicts.map((c) => {
      const since = c.live === null ? 'deleted: ' : c.after === null ? 'inserted: ' : ''
      return [c.table, formatKey(c.key), since + formatChange(c.after, c.live)]
    })
    lines.push(
      ...formatTable(['table', 'key', 'at --to → live'], cells)
        .split('\n')
        .map((l) => `  ${l}`),
    )
  }
  return lines.join('\n')
}
