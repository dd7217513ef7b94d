import { PlanError } from '../../errors.js'
import { openContext } from '../../ops/context.js'
import { addKey, changePassword, listKeys, removeKey } from '../../ops/key.js'
import { readNewPassword } from '../../ops/password.js'
import type { Command } from '../command.js'
import { stringFlag } from '../flags.js'

const usage =
  'drkit key list | add | remove ID | passwd [--new-password-file FILE] [--password-file FILE] [--config FILE] [--json]'

const short = (id: string) => id.slice(0, 8)

const command: Command = {
  summary: 'list, add, remove or change the passwords of an encrypted repository',
  usage,
  help: [
    'The repository opens with the current password (DRKIT_PASSWORD or --password-file);',
    'a new one comes from DRKIT_NEW_PASSWORD or --new-password-file.',
    '',
    '  list         every key: id, when and where it was made, its KDF; * marks the one in use',
    '  add          add a password that opens the repository too',
    '  remove ID    remove a key (by id or unique prefix); never the last one, nor the one in use',
    '  passwd       change the password in use: add the new one, then remove the current key',
  ].join('\n'),
  options: { 'new-password-file': { type: 'string' } },
  async run({ values, positionals }, { out, config }) {
    const [action, id, extra] = positionals
    const wants = action === 'remove' ? 2 : 1
    if (!action || !['list', 'add', 'remove', 'passwd'].includes(action) || positionals.length !== wants || extra) {
      throw new PlanError(
        action === 'remove' ? 'key remove takes a key id' : 'key takes list, add, remove or passwd',
        `Usage: ${usage}`,
      )
    }
    // The new password is read first: a missing one is a usage error before the repository opens.
    const newPassword =
      action === 'add' || action === 'passwd' ? await readNewPassword(stringFlag(values['new-password-file'])) : ''
    const ctx = await openContext({ config })
    try {
      if (action === 'list') {
        out.result({ keys: await listKeys(ctx) }, ({ keys }) =>
          keys
            .map((k) => `${k.current ? '*' : ' '} ${short(k.id)}  ${k.created}  ${k.user}@${k.host}  ${k.kdf}`)
            .join('\n'),
        )
      } else if (action === 'add') {
        out.result(await addKey(ctx, newPassword), (r) => `added key ${short(r.id)}`)
      } else if (action === 'remove') {
        out.result(await removeKey(ctx, id!), (r) => `removed key ${short(r.id)}`)
      } else {
        out.result(
          await changePassword(ctx, newPassword),
          (r) => `changed the password: added key ${short(r.added)}, removed key ${short(r.removed)}`,
        )
      }
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
