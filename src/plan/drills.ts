import { durationSchema, everySchema } from './duration.js'
import * as z from './zod.js'

/**
 * The `drills:` part of the plan: each drill and each of its steps, exactly. A step is a
 * mapping with one step key (`sql`, `exec`, `http`, `fault`, `restore`, `bookmark`,
 * `assert`, `wait`) and an optional `timeout`; its issues name the drill, the step number
 * and the field.
 */

export const drillKinds = ['restore-test', 'pitr', 'corruption-undo', 'kv-restore', 'full-recovery', 'custom'] as const
export type DrillKind = (typeof drillKinds)[number]

const text = z.string({ error: (i) => (i.input == null ? 'required' : 'expected text') }).min(1, 'is empty')

/** SQL run on the drill's working copy, or a shell command run in the plan's folder. */
const faultSchema = z
  .strictObject({ sql: text.optional(), exec: text.optional() })
  .refine((f) => (f.sql === undefined) !== (f.exec === undefined), 'give exactly one of sql or exec')

const httpSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? 'required' : 'not an http(s) URL') }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']).default('GET'),
  body: z.string().optional(),
  expect: z
    .strictObject({
      status: z.int().min(100).max(599).optional(),
      /** A subset the response's JSON body must contain (objects compared key by key, arrays and values exactly). */
      json: z.unknown().optional(),
    })
    .default({ status: 200 }),
})

/** `before-fault`: the newest moment before the first fault step; `latest`: the newest recoverable moment. */
const restoreSchema = z
  .strictObject({ bookmark: text.optional(), at: z.enum(['before-fault', 'latest']).optional() })
  .refine((r) => r.bookmark === undefined || r.at === undefined, 'give at most one of bookmark or at')

/** `sql` returning one value compared with `equals`, or the working copy's fingerprint against a recorded state. */
const assertSchema = z
  .strictObject({
    sql: text.optional(),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    /** `before-fault`, or the name of a bookmark step of this drill. */
    fingerprint: text.optional(),
  })
  .refine((a) => (a.sql === undefined) !== (a.fingerprint === undefined), 'give exactly one of sql or fingerprint')
  .refine((a) => a.sql === undefined || a.equals !== undefined, 'sql needs `equals`: the value the query must return')

const stepSchemas = {
  sql: text.transform((sql) => ({ sql })),
  exec: text.transform((command) => ({ command })),
  http: httpSchema,
  fault: faultSchema,
  restore: z
    .union([restoreSchema, z.null()])
    .transform((r) => r ?? {})
    .optional()
    .transform((r) => r ?? {}),
  bookmark: text.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'not a bookmark name').transform((name) => ({ name })),
  assert: assertSchema,
  wait: durationSchema.transform((ms) => ({ ms })),
} as const
export const stepKinds = Object.keys(stepSchemas) as (keyof typeof stepSchemas)[]
export type StepKind = keyof typeof stepSchemas

type StepOf<K extends StepKind> = { kind: K; timeoutMs?: number } & z.output<(typeof stepSchemas)[K]>
/** A step, normalized: `{ kind: 'http', url, method, expect, timeoutMs? }`. */
export type DrillStep = { [K in StepKind]: StepOf<K> }[StepKind]

const objectivesSchema = z.strictObject({ rpo: durationSchema.optional(), rto: durationSchema.optional() })

const drillShape = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    error: (i) => (i.input === undefined ? 'required' : `${JSON.stringify(i.input)} is not a valid drill name`),
  }),
  resource: text.optional(),
  /** Another resource of the same type the scenario runs on instead of a scratch copy. */
  staging: text.optional(),
  /** Where to restore the scratch copy instead of a chosen place: a file, a folder, redis://HOST:PORT/DB. */
  scratch: text.optional(),
  /** full-recovery: the resources to recover (every resource when absent). */
  resources: z.array(text).min(1).optional(),
  kind: z.enum(drillKinds, {
    error: (i) =>
      i.input === undefined
        ? `required (${drillKinds.join(', ')})`
        : `${JSON.stringify(i.input)} is not a drill kind (use ${drillKinds.join(', ')})`,
  }),
  every: everySchema.optional(),
  objectives: objectivesSchema.optional(),
  fault: faultSchema.optional(),
  steps: z.array(z.unknown()).optional(),
}

function stepSchema(drill: string, n: number, of: number) {
  const where = `(drill "${drill}", step ${n} of ${of})`
  return z.unknown().transform((raw, ctx) => {
    const fail = (message: string, path: PropertyKey[] = []) => {
      ctx.addIssue({ code: 'custom', path, message: `${message} ${where}` })
      return z.NEVER
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      return fail(`expected a mapping with one of ${stepKinds.join(', ')}`)
    const { timeout, ...rest } = raw as Record<string, unknown>
    const keys = Object.keys(rest)
    const kind = keys.find((k): k is StepKind => Object.hasOwn(stepSchemas, k))
    const others = keys.filter((k) => k !== kind)
    if (!kind) return fail(`expected one of ${stepKinds.join(', ')}${keys.length ? `, not ${keys.join(', ')}` : ''}`)
    if (others.length > 0) return fail(`unknown option ${others.join(', ')} beside ${kind} (known: timeout)`)
    let timeoutMs: number | undefined
    if (timeout !== undefined) {
      const parsed = durationSchema.safeParse(timeout)
      if (!parsed.success) return fail(parsed.error.issues[0]!.message, ['timeout'])
      timeoutMs = parsed.data
    }
    const spec = (stepSchemas[kind] as z.ZodType).safeParse(rest[kind])
    if (!spec.success) {
      for (const issue of spec.error.issues) fail(issue.message, [kind, ...issue.path])
      return z.NEVER
    }
    return { kind, ...(timeoutMs !== undefined && { timeoutMs }), ...(spec.data as object) } as DrillStep
  })
}

const needsResource: DrillKind[] = ['restore-test', 'pitr', 'corruption-undo', 'kv-restore']

/** One drill: the common fields, each step, and what its kind requires. */
export const drillSchema = z.unknown().transform((raw, ctx) => {
  const drill = z.strictObject(drillShape).safeParse(raw)
  if (!drill.success) {
    for (const issue of drill.error.issues) ctx.addIssue({ ...issue } as never)
    return z.NEVER
  }
  const { steps: written, ...rest } = drill.data
  const name = rest.name
  const steps: DrillStep[] = []
  let ok = true
  for (const [i, step] of (written ?? []).entries()) {
    const parsed = stepSchema(name, i + 1, written!.length).safeParse(step)
    if (parsed.success) steps.push(parsed.data)
    else {
      ok = false
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['steps', i, ...issue.path] } as never)
    }
  }
  const require = (field: string, message: string) => {
    ok = false
    ctx.addIssue({ code: 'custom', path: [field], message: `${message} (drill "${name}", kind ${rest.kind})` })
  }
  if ((needsResource.includes(rest.kind) || rest.staging !== undefined) && rest.resource === undefined)
    require('resource', 'required: the resource this drill recovers')
  if (rest.kind === 'corruption-undo' && rest.fault?.sql === undefined)
    require('fault', 'required: { sql: ... }, the corruption to undo')
  if (rest.kind === 'custom' && steps.length === 0) require('steps', 'required: at least one step')
  if (rest.kind !== 'custom' && rest.kind !== 'full-recovery' && written !== undefined)
    require('steps', 'only custom and full-recovery drills have steps')
  if (!ok) return z.NEVER
  return { ...rest, steps }
})

export type WrittenDrill = z.output<typeof drillSchema>
