import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { PlanError } from '../errors.js'
import { issueMessages, type ParsedPlan, planSchema } from './schema.js'
import type { LoadPlanOptions, Objectives, Plan, Resource } from './types.js'
import type * as z from './zod.js'

type Path = readonly PropertyKey[]
interface Issue {
  path: Path
  message: string
}

/** Reads, interpolates, validates and normalizes a plan file; see parsePlan. */
export async function loadPlan(file: string, opts: LoadPlanOptions): Promise<Plan> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PlanError(`no drkit.yaml at ${path}`, 'run `drkit init` to write one, or pass --config')
    }
    throw new PlanError(`cannot read ${path}: ${(error as Error).message}`, undefined, undefined, { cause: error })
  }
  return parsePlan(text, { ...opts, baseDir: dirname(path), file: path })
}

/**
 * Turns the text of a plan into a Plan, or throws a PlanError that lists every issue with its
 * dotted path. `${VAR}` and `${VAR:-default}` are replaced in string values after YAML parsing,
 * so a value cannot break the YAML; `$${` writes a literal `${`.
 */
export function parsePlan(text: string, opts: LoadPlanOptions & { baseDir: string; file?: string }): Plan {
  const name = opts.file ?? 'the plan'
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0])
      return `line ${line}, column ${col}: ${error.message}`
    })
    throw invalid(`${name} is not valid YAML`, issues)
  }

  const envIssues: Issue[] = []
  const data = interpolate(doc.toJS() ?? {}, opts.env ?? process.env, [], envIssues)
  const result = planSchema(opts.resourceTypes).safeParse(data, { error: issueMessages })
  // A value whose variable is missing was replaced by '' and may fail validation too: report the cause only.
  const envPaths = new Set(envIssues.map((issue) => formatPath(issue.path)))
  const schemaIssues = (result.error?.issues ?? []).flatMap(flattenIssue)
  const issues = [...envIssues, ...schemaIssues.filter((issue) => !envPaths.has(formatPath(issue.path)))]
  if (issues.length > 0 || !result.success) {
    throw invalid(`${name} is not valid`, issues.map(formatIssue))
  }
  return normalize(result.data, opts.baseDir, opts.file)
}

function invalid(title: string, issues: string[]): PlanError {
  return new PlanError(`${title}:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`, undefined, issues)
}

const placeholder = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g

function interpolate(value: unknown, env: Record<string, string | undefined>, path: Path, issues: Issue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(placeholder, (match, variable?: string, fallback?: string) => {
      if (match === '$${') return '${'
      if (variable === undefined) {
        issues.push({
          path,
          message: `malformed \${...} (use \${NAME} or \${NAME:-default}, or $\${ for a literal \${)`,
        })
        return ''
      }
      const set = env[variable]
      // As in the shell, `:-` also replaces an empty value.
      if (fallback !== undefined && !set) return fallback
      if (set === undefined) issues.push({ path, message: `environment variable ${variable} is not set` })
      return set ?? ''
    })
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, env, [...path, index], issues))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, [...path, key], issues)]),
    )
  }
  return value
}

/** One issue per unknown key and per bad record key, so each line names the exact path. */
function flattenIssue(issue: z.core.$ZodIssue): Issue[] {
  if (issue.code === 'unrecognized_keys')
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: issue.message }))
  if (issue.code === 'invalid_key') return issue.issues.map((inner) => ({ path: issue.path, message: inner.message }))
  return [{ path: issue.path, message: issue.message }]
}

function formatPath(path: Path): string {
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index > 0 ? '.' : ''}${String(key)}`))
    .join('')
}

function formatIssue(issue: Issue): string {
  return issue.path.length > 0 ? `${formatPath(issue.path)}: ${issue.message}` : issue.message
}

function normalize(parsed: ParsedPlan, baseDir: string, file: string | undefined): Plan {
  const { repository } = parsed
  return {
    ...(file !== undefined && { file }),
    baseDir,
    repository: repository.kind === 'fs' ? { ...repository, path: resolve(baseDir, repository.path) } : repository,
    resources: Object.fromEntries(
      Object.entries(parsed.resources).map(([name, resource]) => [name, normalizeResource(name, resource)]),
    ),
    alerts: parsed.alerts,
    drills: parsed.drills.map(({ objectives, ...drill }) => ({
      ...drill,
      objectives: normalizeObjectives(objectives),
    })),
    contacts: parsed.contacts,
  }
}

function normalizeResource(name: string, written: ParsedPlan['resources'][string]): Resource {
  const { type, config, objectives, capture, snapshots, retention } = written
  const resource: Resource = { name, type, config, objectives: normalizeObjectives(objectives) }
  if (capture) resource.capture = { intervalMs: capture.interval }
  if (snapshots) resource.snapshots = snapshots
  if (retention) {
    const { within, pitr, ...counts } = retention
    resource.retention = withoutUndefined({ ...counts, withinMs: within, pitrMs: pitr })
  }
  return resource
}

function normalizeObjectives(objectives: { rpo?: number; rto?: number } | undefined): Objectives {
  return withoutUndefined({ rpoMs: objectives?.rpo, rtoMs: objectives?.rto })
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T
}
