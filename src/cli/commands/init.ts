import { init } from '../../ops/init.js'
import type { Command } from '../command.js'

const command: Command = {
  summary: 'write a commented drkit.yaml and create the repository it names',
  usage: 'drkit init [--encrypt] [--config FILE] [--password-file FILE] [--json]',
  help: [
    'An existing drkit.yaml is left alone; an existing repository is reported and left alone.',
    '',
    '  --encrypt   encrypt everything stored in the new repository; its password comes from',
    '              DRKIT_PASSWORD or --password-file (never from the plan). Without the',
    '              password, nothing in the repository can be read: keep it safe.',
  ].join('\n'),
  options: { encrypt: { type: 'boolean' } },
  async run({ values }, { out, config }) {
    const result = await init({ config, encrypt: values.encrypt === true })
    out.result(result, (r) =>
      [
        r.wrotePlan ? `wrote ${r.config}: edit it to name what to protect` : `using the existing ${r.config}`,
        r.createdRepository
          ? `created the ${r.encrypted ? 'encrypted ' : ''}repository at ${r.repository}`
          : `a repository already exists at ${r.repository}; nothing was changed`,
      ].join('\n'),
    )
    return 0
  },
}

export default command
