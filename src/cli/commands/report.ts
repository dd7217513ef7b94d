import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { buildReport } from '../../ops/report.js'
import { parseDuration } from '../../plan/index.js'
import { renderReportHtml, renderReportMarkdown } from '../../report/index.js'
import type { Command } from '../command.js'
import { stringFlag } from '../flags.js'

const usage = 'drkit report [--format md|html] [--since 90d|TIME] [--json]'

const command: Command = {
  summary: 'evidence for an auditor: objectives, backups, verifications and drills',
  usage,
  help:
    'The objectives, the snapshots taken, every verification and drill with its measured figures, and each\n' +
    'failure with the later success that resolved it, over a period (--since, default 90d: a duration back\n' +
    'from now or an ISO 8601 time). --format html writes one self-contained file with charts of measured RTO\n' +
    'and RPO against the objectives: drkit report --format html > report.html. --json prints the document.',
  options: { format: { type: 'string', short: 'f' }, since: { type: 'string' } },
  async run({ values, positionals }, { out, config }) {
    if (positionals.length > 0) throw new PlanError(`unexpected argument "${positionals[0]}"`, `Usage: ${usage}`)
    const format = stringFlag(values.format) ?? 'md'
    if (format !== 'md' && format !== 'html')
      throw new PlanError(`--format ${format}: expected md or html`, `Usage: ${usage}`)
    const now = new Date()
    const since = sinceFlag(stringFlag(values.since) ?? '90d', now)
    const ctx = await openContext({ config })
    try {
      const doc = await buildReport(ctx, { since, now })
      out.result(doc, (d) => (format === 'html' ? renderReportHtml(d) : renderReportMarkdown(d)).trimEnd())
      return 0
    } finally {
      await ctx.close()
    }
  },
}

function sinceFlag(text: string, now: Date): Date {
  const ms = parseDuration(text)
  if (ms !== undefined) return new Date(now.getTime() - ms)
  const time = Date.parse(text)
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(time)) return new Date(time)
  throw new PlanError(`--since ${text}: expected a duration such as 90d or an ISO 8601 time`, `Usage: ${usage}`)
}

export default command
