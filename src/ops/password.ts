import { readFile } from 'node:fs/promises'
import { PlanError } from '../errors.js'

/**
 * Passwords come from the environment or a file, never from the plan: `DRKIT_PASSWORD_FILE`
 * (which `--password-file` sets) or `DRKIT_PASSWORD`; a new one for `drkit key` from
 * `--new-password-file` or `DRKIT_NEW_PASSWORD`. A file's one trailing newline is not part
 * of the password.
 */
export async function readPassword(): Promise<string | undefined> {
  const file = process.env.DRKIT_PASSWORD_FILE
  if (file) return readPasswordFile(file, '--password-file')
  return nonEmpty(process.env.DRKIT_PASSWORD, 'DRKIT_PASSWORD')
}

/** The new password of `drkit key add|passwd`; PlanError when none is given. */
export async function readNewPassword(file?: string): Promise<string> {
  const password = file
    ? await readPasswordFile(file, '--new-password-file')
    : nonEmpty(process.env.DRKIT_NEW_PASSWORD, 'DRKIT_NEW_PASSWORD')
  if (password === undefined) {
    throw new PlanError('no new password was given', 'Set DRKIT_NEW_PASSWORD, or pass --new-password-file FILE.')
  }
  return password
}

async function readPasswordFile(file: string, flag: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new PlanError(
      `cannot read the password file ${file}: ${(cause as Error).message}`,
      `Check the path given with ${flag}.`,
      undefined,
      { cause },
    )
  }
  const password = nonEmpty(text.replace(/\r?\n$/, ''), file)
  if (password === undefined) throw new PlanError(`the password file ${file} is empty`, 'Write the password into it.')
  return password
}

function nonEmpty(value: string | undefined, where: string): string | undefined {
  if (value === undefined) return undefined
  if (value.length === 0) throw new PlanError(`${where} is empty`, 'Give the password, or leave it unset.')
  return value
}
