import { resolve } from 'node:path'
import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { importKv } from '../../ops/kv.js'
import type { Command } from '../command.js'

const usage = 'drkit import RESOURCE FILE [--force] [--json]'

const command: Command = {
  summary: "load a portable JSON file of keys into a Redis resource's database",
  usage,
  help:
    'FILE is [{"key", "type", "value", "ttl"}] as `drkit export` writes it (strings, hashes, lists, sets, sorted sets).\n' +
    'The whole file is checked first: a wrong entry is named and nothing is imported (exit 2).\n' +
    'A non-empty database is refused unless --force; then only the imported keys are replaced.',
  options: { force: { type: 'boolean' } },
  async run({ values, positionals }, { out, config }) {
    const [resource, file, extra] = positionals
    if (!resource || !file) throw new PlanError(`missing ${resource ? 'FILE' : 'RESOURCE'}`, `Usage: ${usage}`)
    if (extra) throw new PlanError(`unexpected argument "${extra}"`, `Usage: ${usage}`)
    const ctx = await openContext({ config })
    try {
      const result = await importKv(ctx, resource, resolve(file), { force: values.force === true })
      out.result(result, (d) => `imported ${d.keys} keys into ${d.resource}`)
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
