import type { ParseArgsConfig } from 'node:util'
import type { Output } from './output.js'

export type Options = NonNullable<ParseArgsConfig['options']>

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** One CLI command: its help and its options; `run` parses nothing and calls one op. */
export interface Command {
  summary: string
  usage: string
  /** Extra lines of help: what the command does and its exit statuses. */
  help?: string
  options?: Options
  run(args: ParsedArgs, env: CommandEnv): Promise<number | undefined>
}

export interface CommandEnv {
  out: Output
  /** The --config flag, when given. */
  config?: string
}
