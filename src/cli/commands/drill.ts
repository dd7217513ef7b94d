import type { DrillReport } from '../../drills/index.js'
import { formatDrillReport, runDrill } from '../../drills/index.js'
import { openContext } from '../../ops/context.js'
import { selectDrills } from '../../ops/drill.js'
import { commandAlerts } from '../alerting.js'
import type { Command } from '../command.js'
import { formatMs } from '../output.js'

const usage = 'drkit drill NAME... | --all | --due [--json]'

const command: Command = {
  summary: 'run drills: restore into scratch copies, play the scenario, measure RTO and RPO',
  usage,
  help:
    'Each drill restores its resource from the repository into a scratch copy (or the plan’s staging resource),\n' +
    'plays its scenario there and measures RTO (fault to verified recovery) and RPO (committed data lost) against\n' +
    'the objectives. Reports are stored in the repository and printed as markdown drill logs.\n' +
    "A failed drill sends the alert drill.failed to the plan's notifiers; its next pass resolves it.\n" +
    'Exits 1 when a drill fails, 2 when a drill cannot run as written.',
  options: { all: { type: 'boolean' }, due: { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const ctx = await openContext({ config })
    try {
      const drills = await selectDrills(ctx, {
        names: positionals,
        all: values.all === true,
        due: values.due === true,
      })
      const alerts = commandAlerts(ctx.plan, out)
      const reports: DrillReport[] = []
      for (const drill of drills) {
        out.info(`drill ${drill.name} (${drill.kind})`)
        const report = await runDrill(ctx, drill, {
          onStep: (s) => out.info(`  ${s.ok ? '✔' : '✘'} ${s.kind}: ${s.title} (${formatMs(s.durationMs)})`),
        })
        if (report.ok) alerts.resolve('drill.failed', drill.name, `drill ${drill.name} passed`)
        else
          alerts.raise({
            event: 'drill.failed',
            source: drill.name,
            message: `drill ${drill.name} failed: ${report.reason}`,
          })
        reports.push(report)
      }
      await alerts.flush()
      const ok = reports.every((r) => r.ok)
      out.result({ ok, reports }, (doc) =>
        doc.reports.length === 0 ? 'no drill is due' : doc.reports.map(formatDrillReport).join('\n\n'),
      )
      return ok ? 0 : 1
    } finally {
      await ctx.close()
    }
  },
}

export default command
