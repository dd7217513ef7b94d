import { access, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { RefusedError } from '../errors.js'
import { formatInitialPlan, loadPlan } from '../plan/index.js'
import { createRepository, defaultConfigFile, repositoryLocation, resourceTypes } from './context.js'

export interface InitResult {
  config: string
  /** Whether init wrote the plan file (false: one was there and was left alone). */
  wrotePlan: boolean
  repository: string
  /** Whether init created the repository (false: one was there already). */
  createdRepository: boolean
}

/**
 * Writes a commented plan when there is none, then creates the repository the plan names.
 * An existing plan or repository is left alone.
 */
export async function init(opts: { config?: string } = {}): Promise<InitResult> {
  const config = resolve(opts.config ?? defaultConfigFile)
  const wrotePlan = !(await exists(config))
  if (wrotePlan) await writeFile(config, formatInitialPlan(), { flag: 'wx' })
  const plan = await loadPlan(config, { resourceTypes })
  let createdRepository = true
  try {
    await createRepository(plan)
  } catch (err) {
    if (!(err instanceof RefusedError)) throw err
    createdRepository = false
  }
  return { config, wrotePlan, repository: repositoryLocation(plan), createdRepository }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
