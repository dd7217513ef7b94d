/**
 * The drkit command line: every command on one screen, each lazily loaded from
 * commands/. Commands are thin: parse, call one op, render.
 */
import { parseArgs } from 'node:util'
import { PlanError } from '../errors.js'
import type { Command, Options } from './command.js'
import { errorDocument, exitCodeOf, exitCodes, formatError } from './exit.js'
import { createOutput } from './output.js'

const commands: Record<string, () => Promise<Command>> = {
  init: () => import('./commands/init.js').then((m) => m.default),
  backup: () => import('./commands/backup.js').then((m) => m.default),
  snapshots: () => import('./commands/snapshots.js').then((m) => m.default),
  agent: () => import('./commands/agent.js').then((m) => m.default),
  bookmark: () => import('./commands/bookmark.js').then((m) => m.default),
  bookmarks: () => import('./commands/bookmarks.js').then((m) => m.default),
  timeline: () => import('./commands/timeline.js').then((m) => m.default),
  restore: () => import('./commands/restore.js').then((m) => m.default),
  diff: () => import('./commands/diff.js').then((m) => m.default),
  undo: () => import('./commands/undo.js').then((m) => m.default),
  verify: () => import('./commands/verify.js').then((m) => m.default),
  forget: () => import('./commands/forget.js').then((m) => m.default),
  unlock: () => import('./commands/unlock.js').then((m) => m.default),
  drill: () => import('./commands/drill.js').then((m) => m.default),
  drills: () => import('./commands/drills.js').then((m) => m.default),
  capture: () => import('./commands/capture.js').then((m) => m.default),
  demo: () => import('./commands/demo.js').then((m) => m.default),
  export: () => import('./commands/export.js').then((m) => m.default),
  import: () => import('./commands/import.js').then((m) => m.default),
  key: () => import('./commands/key.js').then((m) => m.default),
  status: () => import('./commands/status.js').then((m) => m.default),
  report: () => import('./commands/report.js').then((m) => m.default),
  runbook: () => import('./commands/runbook.js').then((m) => m.default),
}

const globalOptions: Options = {
  config: { type: 'string', short: 'c' },
  'password-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

const exitHelp = 'Exit status: 0 success, 1 the operation ran and failed, 2 bad usage or configuration.'

async function usage(): Promise<string> {
  const lines = ['Usage: drkit <command> [options]', '', 'Commands:']
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`)
  lines.push(
    '',
    'Global options:',
    '  -c, --config FILE   the plan (default ./drkit.yaml)',
    '      --password-file FILE',
    '                      the password of an encrypted repository (else DRKIT_PASSWORD)',
    '      --json          print one JSON document on stdout',
    '  -h, --help          help for drkit or a command',
    '',
    exitHelp,
  )
  return lines.join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const out = createOutput(json)
  try {
    const at = commandIndex(argv)
    const name = argv[at]
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${await usage()}\n`)
      return name ? exitCodes.ok : exitCodes.usage
    }
    const { command, parsed, optional } = await parseCommandLine(argv)
    if (parsed.values.help) {
      process.stdout.write(
        `Usage: ${command.usage}\n\n${command.summary}\n${command.help ? `\n${command.help}\n` : ''}\n${exitHelp}\n`,
      )
      return exitCodes.ok
    }
    const values = { ...parsed.values, ...optional.values } as Record<string, string | boolean | undefined>
    const config = typeof values.config === 'string' ? values.config : undefined
    // The one place a password file is named; ops read it from there (ops/password.ts).
    if (typeof values['password-file'] === 'string') process.env.DRKIT_PASSWORD_FILE = values['password-file']
    return (await command.run({ values, positionals: parsed.positionals }, { out, config })) ?? exitCodes.ok
  } catch (err) {
    if (json) process.stdout.write(`${JSON.stringify(errorDocument(err), null, 2)}\n`)
    else process.stderr.write(`${formatError(err)}\n`)
    return exitCodeOf(err)
  }
}

/** The names of every command, for generated text (the runbook) that must name only real ones. */
export const commandNames: readonly string[] = Object.keys(commands)

/**
 * Parses a command line as `main` does, without running it: PlanError for an unknown
 * command or options the command does not take. The runbook's tests use it so that its
 * command lines cannot drift from the CLI.
 */
export async function parseCommandLine(argv: string[]) {
  const at = commandIndex(argv)
  const name = argv[at]
  const load = name === undefined ? undefined : commands[name]
  if (!load) throw new PlanError(`unknown command "${name}"`, 'Run `drkit --help` for the list of commands.')
  const command = await load()
  let parsed: ReturnType<typeof parseArgs>
  let optional: ReturnType<typeof optionalValues>
  try {
    const args = joinRelativeTimes([...argv.slice(0, at), ...argv.slice(at + 1)], command.options ?? {})
    optional = optionalValues(args, command.options ?? {})
    parsed = parseArgs({
      args: optional.args,
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    throw new PlanError(`${(err as Error).message.replace(/\.$/, '')}`, `Usage: ${command.usage}`)
  }
  return { command, parsed, optional }
}

/** Where the command name is: global options such as `--config FILE` may come before it. */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--config' || arg === '-c' || arg === '--password-file') i++
    else if (arg !== '--json' && !arg.startsWith('--config=') && !arg.startsWith('--password-file=')) return i
  }
  return argv.length
}

/**
 * A boolean option may take an optional value written `--name=VALUE` (`--read-data=10`):
 * parseArgs knows no optional values, so those are taken out here and given back as strings.
 */
function optionalValues(args: string[], options: Options): { args: string[]; values: Record<string, string> } {
  const values: Record<string, string> = {}
  const rest = args.filter((arg) => {
    const match = /^--([^=]+)=(.*)$/s.exec(arg)
    if (!match || options[match[1]!]?.type !== 'boolean') return true
    values[match[1]!] = match[2]!
    return false
  })
  return { args: rest, values }
}

/**
 * `--at -15m` reads to parseArgs as two options; a value that starts with a dash and a
 * digit (a relative time) is joined to its option as `--at=-15m`.
 */
function joinRelativeTimes(args: string[], options: Options): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}
