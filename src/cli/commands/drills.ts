import { openContext } from '../../ops/context.js'
import { listDrills } from '../../ops/drill.js'
import { formatDuration } from '../../plan/index.js'
import type { Command } from '../command.js'
import { formatTable } from '../output.js'

const command: Command = {
  summary: 'list the plan’s drills with their last run, result and next due date',
  usage: 'drkit drills [--json]',
  async run(_args, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const drills = await listDrills(ctx)
      out.result({ drills }, (doc) =>
        doc.drills.length === 0
          ? 'the plan has no drills'
          : formatTable(
              ['DRILL', 'KIND', 'RESOURCE', 'EVERY', 'LAST RUN', 'RESULT', 'RTO', 'RPO', 'NEXT DUE'],
              doc.drills.map((d) => [
                d.name,
                d.kind,
                d.resource ?? '-',
                d.every ?? '-',
                d.last?.time.replace(/\.\d+Z$/, 'Z') ?? 'never',
                d.last ? (d.last.ok ? 'pass' : 'FAIL') : '-',
                d.last?.rtoMs === undefined ? '-' : formatDuration(d.last.rtoMs),
                d.last?.rpoMs === undefined ? '-' : formatDuration(d.last.rpoMs),
                d.nextDue === undefined ? '-' : `${d.nextDue.replace(/\.\d+Z$/, 'Z')}${d.due ? ' (due)' : ''}`,
              ]),
            ),
      )
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
