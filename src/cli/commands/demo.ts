import { runTour } from '../../demo/tour.js'
import { formatDrillReport } from '../../drills/index.js'
import type { Command } from '../command.js'
import { formatMs } from '../output.js'

const command: Command = {
  summary: 'a complete tour on an embedded SQLite example: protect, break, recover',
  usage: 'drkit demo [--keep] [--json]',
  help: 'Runs in a temporary folder, removed afterwards unless --keep.',
  options: { keep: { type: 'boolean' } },
  async run({ values }, { out }) {
    out.info('drkit demo: a sample application database, protected, broken and recovered\n')
    const report = await runTour({
      keep: values.keep === true,
      onStep: (step) => out.info(`✔ ${step.title} (${formatMs(step.durationMs)})\n    ${step.detail}`),
    })
    out.result(report, (r) => {
      const total = r.steps.reduce((n, s) => n + s.durationMs, 0)
      return (
        (r.drill ? `\n${formatDrillReport(r.drill)}\n` : '') +
        `\nrecovered: ${r.recovered ? 'yes' : 'no'}, ${r.steps.length} steps in ${formatMs(total)}` +
        (values.keep ? `\nthe demo folder is kept at ${r.folder}` : '')
      )
    })
    return report.recovered ? 0 : 1
  },
}

export default command
