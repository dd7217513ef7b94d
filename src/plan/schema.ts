import { drillSchema } from './drills.js'
import { durationSchema } from './duration.js'
import * as z from './zod.js'

/**
 * The plan as users write it, the single source of every option and its default. Type-specific
 * resource options (a sqlite `path`, a postgres `url`) come from the schemas the caller passes in.
 */

/** Per resource type, the schema of the type's own options (without the common ones below); it should be strict. */
export type ResourceTypes = Record<string, z.ZodType>

export const defaultRepository = './.drkit/repo'

/** Messages for the issues zod words generically: missing values and unknown keys. */
export const issueMessages: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required'
  if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject) return unknownOption(issue.inst.shape)
  return undefined
}

function unknownOption(...shapes: object[]): string {
  return `unknown option (known: ${shapes.flatMap((shape) => Object.keys(shape)).join(', ')})`
}

/** The message for a value that must be one of `values`. */
function notOneOf(value: unknown, what: string, values: readonly string[]): string {
  const choices = values.join(', ')
  return value === undefined ? `required (${choices})` : `${JSON.stringify(value)} is not ${what} (use ${choices})`
}

const bucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

function parseRepositoryUrl(url: string) {
  const s3 = /^s3:\/\/([^/]*)(.*)$/.exec(url)
  if (s3) {
    const bucket = s3[1] ?? ''
    if (!bucketName.test(bucket)) return `"${url}" does not name a valid S3 bucket (use s3://bucket/prefix)`
    return { url, kind: 's3' as const, bucket, prefix: (s3[2] ?? '').replace(/^\/+|\/+$/g, '') }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return `"${url}" is not supported (use a folder or s3://bucket/prefix)`
  if (url.trim() === '') return 'required (a folder or s3://bucket/prefix)'
  return { url, kind: 'fs' as const, path: url }
}

/** A folder (absolute, or relative to the plan's folder) or `s3://bucket/prefix`; load.ts resolves the folder. */
const repositorySchema = z
  .string()
  .transform((url, ctx) => {
    const parsed = parseRepositoryUrl(url)
    if (typeof parsed === 'object') return parsed
    ctx.addIssue({ code: 'custom', message: parsed })
    return z.NEVER
  })
  .prefault(defaultRepository)

const resourceName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const resourceNameSchema = z.string().regex(resourceName, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a valid resource name ` +
    '(use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit)',
})

const cronField = /^[0-9A-Za-z*,/-]+$/
const cronSchema = z.string().refine(
  (text) => {
    const fields = text.trim().split(/\s+/)
    return fields.length === 5 && fields.every((field) => cronField.test(field))
  },
  {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not a cron schedule ` +
      '(5 fields: minute hour day-of-month month day-of-week, for example "30 0 * * *")',
  },
)

const keepCount = z.int({ error: 'expected a whole number' }).min(0, { error: 'expected 0 or more' })

export const objectivesSchema = z.strictObject({
  /** Recovery point objective: the most recent data a recovery may lose. */
  rpo: durationSchema.optional(),
  /** Recovery time objective: how long a recovery may take. */
  rto: durationSchema.optional(),
})

/** The options every resource accepts, whatever its type. */
export const commonResourceShape = {
  objectives: objectivesSchema.optional(),
  capture: z.strictObject({ interval: durationSchema.prefault('1s') }).optional(),
  snapshots: z.strictObject({ schedule: cronSchema.optional() }).optional(),
  retention: z
    .strictObject({
      last: keepCount.optional(),
      hourly: keepCount.optional(),
      daily: keepCount.optional(),
      weekly: keepCount.optional(),
      monthly: keepCount.optional(),
      yearly: keepCount.optional(),
      /** Keep every snapshot younger than this. */
      within: durationSchema.optional(),
      /** Keep captured changes this long: how far back point-in-time restore reaches. */
      pitr: durationSchema.optional(),
      /** When the agent applies it (forget, then prune), as cron; without it, only `drkit forget` does. */
      schedule: cronSchema.optional(),
    })
    .optional(),
}
const commonResourceSchema = z.object(commonResourceShape)

/** A resource: `type`, the common options, and the rest parsed by the type's schema; issues of both are reported. */
function resourceSchema(types: ResourceTypes) {
  const known = Object.keys(types).join(', ')
  return z
    .record(z.string(), z.unknown(), { error: 'expected a mapping of options (type, objectives, ...)' })
    .transform((raw, ctx) => {
      const { type, ...rest } = raw
      const common = commonResourceSchema.safeParse(rest, { error: issueMessages })
      for (const issue of common.error?.issues ?? []) ctx.addIssue({ ...issue })
      const typeSchema = typeof type === 'string' && Object.hasOwn(types, type) ? types[type] : undefined
      if (typeof type !== 'string' || !typeSchema) {
        const message = type === undefined ? 'required' : `unknown type ${JSON.stringify(type)}`
        ctx.addIssue({ code: 'custom', path: ['type'], message: `${message} (known: ${known})` })
        return z.NEVER
      }
      const own = Object.fromEntries(Object.entries(rest).filter(([key]) => !Object.hasOwn(commonResourceShape, key)))
      const config = typeSchema.safeParse(own, { error: issueMessages })
      const typeShape = typeSchema instanceof z.ZodObject ? typeSchema.shape : {}
      for (const issue of config.error?.issues ?? []) {
        // A key unknown to the type may be a misspelt common option, so name both sets.
        const message =
          issue.code === 'unrecognized_keys' && unknownOption({ type: true }, commonResourceShape, typeShape)
        ctx.addIssue({ ...issue, ...(message && { message }) })
      }
      if (!common.success || !config.success) return z.NEVER
      return { type, ...common.data, config: config.data }
    })
}

const alertTypes = ['webhook', 'slack', 'pagerduty'] as const
const urlSchema = z.url({
  protocol: /^https?$/,
  error: (issue) => (issue.input === undefined ? undefined : `${JSON.stringify(issue.input)} is not an http(s) URL`),
})
/** What alerts are raised for, named `<area>.<what>`; a notifier's `events` filter takes these or `area.*`. */
export const alertEvents = [
  'backup.failed',
  'capture.gap',
  'rpo.breached',
  'verify.failed',
  'drill.failed',
  'drill.overdue',
] as const
const eventFilter = z
  .string()
  .refine((name) => alertEvents.some((e) => e === name || (name.endsWith('.*') && e.startsWith(name.slice(0, -1)))), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not an alert event (use ${alertEvents.join(', ')}, or an area such as drill.*)`,
  })
const events = z.array(eventFilter).optional()
export const alertSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('webhook'), url: urlSchema, events }),
    z.strictObject({ type: z.literal('slack'), url: urlSchema, events }),
    z.strictObject({ type: z.literal('pagerduty'), routingKey: z.string().min(1), url: urlSchema.optional(), events }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? notOneOf((issue.input as { type?: unknown }).type, 'an alert type', alertTypes)
        : 'expected a mapping such as { type: webhook, url: https://... }',
  },
)

export { drillKinds, drillSchema } from './drills.js'

export const contactSchema = z.strictObject({ role: z.string().min(1), contact: z.string().min(1) })

/** The whole plan; parse it with `{ error: issueMessages }`. */
export function planSchema(types: ResourceTypes) {
  return z.strictObject(
    {
      repository: repositorySchema,
      resources: z.record(resourceNameSchema, resourceSchema(types)),
      alerts: z.array(alertSchema).default([]),
      drills: z.array(drillSchema).default([]),
      contacts: z.array(contactSchema).default([]),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type' ? 'the plan must be a mapping with at least `resources`' : undefined,
    },
  )
}

export type ParsedPlan = z.output<ReturnType<typeof planSchema>>
