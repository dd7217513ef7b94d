import { init } from '../../ops/init.js'
import type { Command } from '../command.js'

const command: Command = {
  summary: 'write a commented drkit.yaml and create the repository it names',
  usage: 'drkit init [--config FILE] [--json]',
  help: 'An existing drkit.yaml is left alone; an existing repository is reported and left alone.',
  async run(_args, { out, config }) {
    const result = await init({ config })
    out.result(result, (r) =>
      [
        r.wrotePlan ? `wrote ${r.config}: edit it to name what to protect` : `using the existing ${r.config}`,
        r.createdRepository
          ? `created the repository at ${r.repository}`
          : `a repository already exists at ${r.repository}; nothing was changed`,
      ].join('\n'),
    )
    return 0
  },
}

export default command
