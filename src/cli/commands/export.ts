import { once } from 'node:events'
import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { exportKv } from '../../ops/kv.js'
import type { Command } from '../command.js'
import { requiredPositional, stringFlag } from '../flags.js'

const usage = 'drkit export RESOURCE --format json [--snapshot ID] > kv.json'

const command: Command = {
  summary: 'write a Redis snapshot as portable JSON on stdout',
  usage,
  help:
    'Writes [{"key", "type", "value", "ttl"}] from the latest snapshot (or --snapshot), one entry per line.\n' +
    'Text that is not valid UTF-8 is written as {"base64": "..."}; ttl is in ms as of the snapshot, or null.\n' +
    'See docs/REDIS.md for the form of each type.',
  options: { format: { type: 'string' }, snapshot: { type: 'string' } },
  async run({ values, positionals }, { out, config }) {
    const resource = requiredPositional(positionals, 'RESOURCE', usage)
    const format = stringFlag(values.format) ?? 'json'
    if (format !== 'json') throw new PlanError(`--format ${format} is not known`, 'The only format is json.')
    if (out.json) throw new PlanError('export writes its JSON to stdout already: leave out --json')
    const ctx = await openContext({ config })
    try {
      const write = async (text: string) => {
        // Waiting for the pipe to drain keeps memory flat however large the export.
        if (!process.stdout.write(text)) await once(process.stdout, 'drain')
      }
      const result = await exportKv(ctx, resource, { snapshot: stringFlag(values.snapshot), write })
      out.info(`exported ${result.entries} keys of ${resource} from snapshot ${result.snapshot.slice(0, 12)}`)
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
