import { access, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { PlanError, RefusedError } from '../errors.js'
import { formatInitialPlan, loadPlan } from '../plan/index.js'
import { createRepository, defaultConfigFile, repositoryLocation, resourceTypes } from './context.js'
import { readPassword } from './password.js'

export interface InitResult {
  config: string
  /** Whether init wrote the plan file (false: one was there and was left alone). */
  wrotePlan: boolean
  repository: string
  /** Whether init created the repository (false: one was there already). */
  createdRepository: boolean
  /** Present when init created an encrypted repository. */
  encrypted?: true
}

export interface InitOptions {
  config?: string
  /** Encrypt the new repository with `password`, by default DRKIT_PASSWORD_FILE's or DRKIT_PASSWORD. */
  encrypt?: boolean
  password?: string
}

/**
 * Writes a commented plan when there is none, then creates the repository the plan names.
 * An existing plan or repository is left alone. With `encrypt`, a missing password is a
 * PlanError before anything is written.
 */
export async function init(opts: InitOptions = {}): Promise<InitResult> {
  const password = opts.encrypt ? (opts.password ?? (await readPassword())) : undefined
  if (opts.encrypt && password === undefined) {
    throw new PlanError(
      'an encrypted repository needs a password, and none was given',
      'Set DRKIT_PASSWORD, or pass --password-file FILE (a file that holds the password).',
    )
  }
  const config = resolve(opts.config ?? defaultConfigFile)
  const wrotePlan = !(await exists(config))
  if (wrotePlan) await writeFile(config, formatInitialPlan(), { flag: 'wx' })
  const plan = await loadPlan(config, { resourceTypes })
  let createdRepository = true
  try {
    await (await createRepository(plan, { password })).close()
  } catch (err) {
    if (!(err instanceof RefusedError)) throw err
    createdRepository = false
  }
  const result: InitResult = { config, wrotePlan, repository: repositoryLocation(plan), createdRepository }
  if (createdRepository && password !== undefined) result.encrypted = true
  return result
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
