import { resolve } from 'node:path'
import { NotFoundError, PlanError } from '../errors.js'
import { loadPlan, type Plan, type Resource } from '../plan/index.js'
import { BackendError, openBackend, openFsBackend } from '../repository/backends/index.js'
import { type PasswordSource, Repository } from '../repository/index.js'
import { type Source, sources } from '../sources/index.js'
import { readPassword } from './password.js'

/**
 * The composition root: the plan, the repository it names and the sources of its
 * resources, each opened once and on first use. CLI commands, the server and library
 * users build one and hand it to the ops.
 */
export interface OpsContext {
  readonly plan: Plan
  /** The resource's plan entry; PlanError naming the known ones when it is not in the plan. */
  resource(name: string): Resource
  repository(): Promise<Repository>
  openSource(name: string): Promise<Source>
  close(): Promise<void>
}

/** The per-type schemas of every registered source, for the plan loader. */
export const resourceTypes = Object.fromEntries(Object.entries(sources).map(([type, def]) => [type, def.configSchema]))

export const defaultConfigFile = 'drkit.yaml'

export interface ContextOptions {
  /** The plan file (default ./drkit.yaml). */
  config?: string
  /** The password of an encrypted repository; by default from DRKIT_PASSWORD_FILE or DRKIT_PASSWORD. */
  password?: PasswordSource
}

export async function openContext(opts: ContextOptions = {}): Promise<OpsContext> {
  const plan = await loadPlan(resolve(opts.config ?? defaultConfigFile), { resourceTypes })
  return contextFromPlan(plan, opts)
}

export function contextFromPlan(plan: Plan, opts: Pick<ContextOptions, 'password'> = {}): OpsContext {
  let repository: Promise<Repository> | undefined
  return {
    plan,
    resource(name) {
      const found = plan.resources[name]
      if (found) return found
      const known = Object.keys(plan.resources)
      throw new PlanError(
        `there is no resource "${name}" in ${plan.file ?? 'the plan'}`,
        known.length > 0 ? `Known resources: ${known.join(', ')}.` : 'Add it under `resources:` first.',
      )
    },
    repository() {
      repository ??= openRepository(plan, opts.password ?? readPassword)
      return repository
    },
    async openSource(name) {
      const resource = this.resource(name)
      const definition = sources[resource.type as keyof typeof sources]
      return definition.open(resource.config as never, { resource: name, baseDir: plan.baseDir })
    },
    async close() {
      // A repository that failed to open has nothing to close; its error was reported already.
      if (repository)
        await repository.then(
          (r) => r.close(),
          () => undefined,
        )
    },
  }
}

export function repositoryLocation(plan: Plan): string {
  return plan.repository.kind === 'fs' ? plan.repository.path : plan.repository.url
}

async function openRepository(plan: Plan, password: PasswordSource): Promise<Repository> {
  try {
    return await Repository.open(await openBackend(repositoryLocation(plan)), { password })
  } catch (err) {
    if (err instanceof BackendError && err.kind === 'not-found') {
      throw new NotFoundError(
        `there is no drkit repository at ${repositoryLocation(plan)}`,
        'Run `drkit init` to create it.',
        { cause: err },
      )
    }
    throw err
  }
}

/**
 * Creates the repository the plan names, encrypted with `password` when one is given;
 * RefusedError when it exists already.
 */
export async function createRepository(plan: Plan, opts: { password?: string } = {}): Promise<Repository> {
  const backend =
    plan.repository.kind !== 'fs'
      ? await openBackend(plan.repository.url)
      : await openFsBackend(plan.repository.path, { create: true })
  return Repository.init(backend, opts)
}
