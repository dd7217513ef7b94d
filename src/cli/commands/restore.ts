import { resolve } from 'node:path'
import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { restore } from '../../ops/restore.js'
import { shortId } from '../../repository/index.js'
import { parseMoment } from '../../timeline/moment.js'
import type { Command } from '../command.js'
import { requiredPositional, stringFlag } from '../flags.js'
import { formatBytes, formatMs } from '../output.js'

const usage =
  'drkit restore RESOURCE --to TARGET [--snapshot ID | --at TIME | --bookmark NAME] ' +
  '[--tables T1,T2 | --keys P1,P2 | --paths P1,P2] [--where SQL] [--format sql] [--force] [--json]'

const command: Command = {
  summary: 'restore a resource into a new target',
  usage,
  help:
    'TARGET is a new file (SQLite), a database URL (redis://host:port/5) or a new directory (files).\n' +
    'An existing, non-empty target is refused unless --force.\n' +
    'TIME is ISO 8601 (2026-02-27T10:00:00Z) or relative (-15m): the state of the last transaction committed by then.\n' +
    '--tables restores only those tables (with their indexes and triggers, and the views that read only them).\n' +
    '--where "tenant_id = \'acme\'" keeps only matching rows in every restored table that has the columns it names;\n' +
    'the other restored tables are restored whole.\n' +
    "--keys 'session:*' restores only the Redis keys matching these patterns (with --force, only they are replaced).\n" +
    "--paths 'docs/**,*.pdf' restores only the files and directories matching these patterns, with their parents." +
    '--format sql writes a plain SQL file that psql can load (PostgreSQL), TARGET being its path.',
  options: {
    to: { type: 'string' },
    snapshot: { type: 'string' },
    at: { type: 'string' },
    bookmark: { type: 'string' },
    force: { type: 'boolean' },
    tables: { type: 'string' },
    keys: { type: 'string' },
    paths: { type: 'string' },
    where: { type: 'string' },
    format: { type: 'string' },
  },
  async run({ values, positionals }, { out, config }) {
    const resource = requiredPositional(positionals, 'RESOURCE', usage)
    const target = stringFlag(values.to)
    if (!target) throw new PlanError('missing --to TARGET: where to restore', `Usage: ${usage}`)
    const list = (value: unknown) => (typeof value === 'string' ? value.split(',').map((t) => t.trim()) : undefined)
    const parts = { tables: list(values.tables), keys: list(values.keys), paths: list(values.paths) }
    const where = stringFlag(values.where)
    const format = stringFlag(values.format)
    if (format !== undefined && format !== 'sql') {
      throw new PlanError(`--format ${format} is not known`, 'The only format is sql (a plain SQL file for psql).')
    }
    const ctx = await openContext({ config })
    try {
      out.info(`restoring ${resource} into ${target}…`)
      const result = await restore(ctx, {
        resource,
        // A path is taken relative to where the user is; a URL (redis://, postgres://) as it is.
        target: /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : resolve(target),
        snapshot: stringFlag(values.snapshot),
        at: typeof values.at === 'string' ? parseMoment(values.at) : undefined,
        bookmark: stringFlag(values.bookmark),
        force: values.force === true,
        ...parts,
        where,
        ...(format ? { format } : {}),
      })
      const doc = {
        resource,
        snapshot: result.snapshot.id,
        target: result.target,
        bytes: result.bytes,
        time: result.time,
        changes: result.changes,
        exact: result.exact,
        durationMs: result.durationMs,
        ...(result.counts && { counts: result.counts }),
        ...Object.fromEntries(Object.entries(parts).filter(([, names]) => names !== undefined)),
        ...(where !== undefined ? { where } : {}),
      }
      out.result(
        doc,
        (d) =>
          `restored ${d.resource} as of ${d.time} into ${d.target}: snapshot ${shortId(d.snapshot)}` +
          `${d.changes > 0 ? ` and ${d.changes} changes` : ''} (${formatBytes(d.bytes)} in ${formatMs(d.durationMs)})` +
          (d.counts
            ? `\n${Object.entries(d.counts)
                .map(([what, n]) => `${what}: ${n}`)
                .join(', ')}`
            : '') +
          (parts.tables ? `\ntables: ${parts.tables.join(', ')}` : '') +
          (parts.keys ? `\nkeys matching: ${parts.keys.join(', ')}` : '') +
          (parts.paths ? `\npaths matching: ${parts.paths.join(', ')}` : '') +
          (d.where !== undefined ? `\nrows where ${d.where}, in the tables that have its columns` : '') +
          (d.exact
            ? ''
            : '\nno changes are captured for this resource: this is its newest snapshot before that moment'),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
