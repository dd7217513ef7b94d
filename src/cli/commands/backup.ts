import type { AlertDispatcher } from '../../alerts/index.js'
import { backup } from '../../ops/backup.js'
import { openContext } from '../../ops/context.js'
import { shortId } from '../../repository/index.js'
import { commandAlerts } from '../alerting.js'
import type { Command } from '../command.js'
import { errorDocument } from '../exit.js'
import { durationFlag } from '../flags.js'
import { formatBytes, formatMs, formatTable } from '../output.js'

const command: Command = {
  summary: 'take snapshots now (every resource, or those named)',
  usage: 'drkit backup [RESOURCE...] [--wait DURATION] [--read-all] [--json]',
  help:
    'A second backup of the same resource fails at once, naming the holder, unless --wait gives it time.\n' +
    'A files resource reads only the files whose size, mtime, ctime or inode changed since its last\n' +
    'snapshot; --read-all reads every file again.\n' +
    'Every named resource is tried even when one fails; a failure sends the alert backup.failed to the\n' +
    "plan's notifiers, and the next successful backup of that resource resolves it. Exits 1 if any failed.",
  options: { wait: { type: 'string' }, 'read-all': { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const names = positionals.length > 0 ? positionals : Object.keys(ctx.plan.resources)
      for (const name of names) ctx.resource(name)
      const waitMs = durationFlag('wait', values.wait) ?? 0
      const alerts = commandAlerts(ctx.plan, out)
      const results = []
      const failures: { resource: string; error: unknown }[] = []
      for (const name of names) {
        out.info(`backing up ${name}…`)
        try {
          const { snapshot } = await backup(ctx, name, { waitMs, readAll: values['read-all'] === true })
          alerts.resolve('backup.failed', name, `snapshot ${shortId(snapshot.id)} of ${name} taken`)
          results.push({
            resource: name,
            id: snapshot.id,
            time: snapshot.time,
            size: snapshot.stats.size,
            newBytes: snapshot.stats.newBytes,
            storedBytes: snapshot.stats.storedBytes,
            durationMs: snapshot.stats.durationMs,
            tables: snapshot.tables,
          })
        } catch (error) {
          raiseFailure(alerts, name, error)
          failures.push({ resource: name, error })
        }
      }
      await alerts.flush()
      // One resource that failed alone reads best as the plain error, with its hint and exit status.
      if (failures.length > 0 && results.length === 0 && failures.length === 1) throw failures[0]?.error
      const failed = failures.map((f) => ({ resource: f.resource, ...errorDocument(f.error) }))
      out.result({ snapshots: results, failed }, (doc) =>
        [
          ...(doc.snapshots.length === 0
            ? []
            : [
                formatTable(
                  ['resource', 'snapshot', 'size', 'new', 'stored', 'duration'],
                  doc.snapshots.map((s) => [
                    s.resource,
                    shortId(s.id),
                    formatBytes(s.size),
                    formatBytes(s.newBytes),
                    formatBytes(s.storedBytes),
                    formatMs(s.durationMs),
                  ]),
                ),
              ]),
          ...doc.failed.map(
            (f) => `FAILED ${f.resource}: ${f.error.message}${f.error.hint ? `\n  ${f.error.hint}` : ''}`,
          ),
        ].join('\n'),
      )
      return failed.length > 0 ? 1 : 0
    } finally {
      await ctx.close()
    }
  },
}

function raiseFailure(alerts: AlertDispatcher, resource: string, error: unknown): void {
  const { message } = errorDocument(error).error
  alerts.raise({ event: 'backup.failed', source: resource, message: `backup of ${resource} failed: ${message}` })
}

export default command
