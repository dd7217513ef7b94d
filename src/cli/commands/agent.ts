import { openContext } from '../../ops/context.js'
import { runAgent } from '../../scheduler/agent.js'
import { commandAlerts } from '../alerting.js'
import type { Command } from '../command.js'

const command: Command = {
  summary: 'capture and ship changes continuously, take scheduled snapshots, run due drills',
  usage: 'drkit agent [--once] [--no-drills] [--verbose]',
  help:
    'Runs in the foreground until SIGTERM or SIGINT, then ships everything captured before it exits.\n' +
    'With --once: one pass (ship what is captured, take snapshots that are due, run the due drills, apply the\n' +
    'due retention, check the objectives) and exit.\n' +
    'A resource with `retention.schedule` has its retention applied then (forget and prune, as `drkit forget`),\n' +
    'in the background and safely beside capture and backups; each run is stored as evidence.\n' +
    'Drills whose `every` makes them due run one at a time in the background, never holding up capture; each\n' +
    'report is stored like `drkit drill`. --no-drills leaves drills to cron (`drkit drill --due`).\n' +
    "Alerts go to the plan's notifiers: backup.failed, capture.gap, and from a check every minute rpo.breached,\n" +
    'verify.failed, drill.failed and drill.overdue, each sent once while it lasts and resolved when it is over.',
  options: { once: { type: 'boolean' }, 'no-drills': { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' } },
  async run({ values }, { out, config }) {
    const ctx = await openContext({ config })
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
    try {
      await runAgent(ctx, {
        once: values.once === true,
        drills: values['no-drills'] !== true,
        signal: stop.signal,
        alerts: commandAlerts(ctx.plan, out),
        onEvent: (e) => {
          if (e.event === 'capture.shipped' && !values.verbose) return
          const subject = e.resource ?? e.drill
          const line = `${new Date().toISOString()} ${e.event}${subject ? ` ${subject}` : ''}: ${e.message}`
          if (
            [
              'capture.gap',
              'snapshot.failed',
              'capture.warning',
              'check.failed',
              'drill.failed',
              'retention.failed',
            ].includes(e.event)
          )
            out.warn(line)
          else out.info(line)
        },
      })
      return 0
    } finally {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      await ctx.close()
    }
  },
}

export default command
