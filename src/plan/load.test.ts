// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold ${VAR} placeholders for the plan, not JS
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { PlanError } from '../errors.js'
import { loadPlan, parsePlan } from './load.js'

const resourceTypes = {
  sqlite: z.strictObject({ path: z.string() }),
  postgres: z.strictObject({ url: z.string(), schema: z.string().default('public') }),
}
const opts = { baseDir: '/srv/app', file: '/srv/app/drkit.yaml', resourceTypes, env: {} }

/** The issues of the PlanError that `fn` throws. */
function issuesOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    if (error instanceof PlanError) return error.issues
    throw error
  }
  throw new Error('expected a PlanError')
}

describe('parsePlan', () => {
  it('fills defaults and normalizes durations', () => {
    const plan = parsePlan(
      `resources:
  app-db:
    type: sqlite
    path: ./data/app.db
    objectives: { rpo: 5s, rto: 15m }
    capture: {}
    snapshots: { schedule: "30 0 * * *" }
    retention: { daily: 30, within: 2d, pitr: 7d }
`,
      opts,
    )
    expect(plan).toEqual({
      file: '/srv/app/drkit.yaml',
      baseDir: '/srv/app',
      repository: { url: './.drkit/repo', kind: 'fs', path: '/srv/app/.drkit/repo' },
      resources: {
        'app-db': {
          name: 'app-db',
          type: 'sqlite',
          config: { path: './data/app.db' },
          objectives: { rpoMs: 5000, rtoMs: 900_000 },
          capture: { intervalMs: 1000 },
          snapshots: { schedule: '30 0 * * *' },
          retention: { daily: 30, withinMs: 172_800_000, pitrMs: 604_800_000 },
        },
      },
      alerts: [],
      drills: [],
      contacts: [],
    })
  })

  it('keeps the output of the type schema', () => {
    const plan = parsePlan('resources: { main: { type: postgres, url: "postgres://db/app" } }', opts)
    expect(plan.resources.main).toEqual({
      name: 'main',
      type: 'postgres',
      config: { url: 'postgres://db/app', schema: 'public' },
      objectives: {},
    })
  })

  it.each([
    ['s3://backups/prod/app/', { kind: 's3', bucket: 'backups', prefix: 'prod/app' }],
    ['s3://backups', { kind: 's3', bucket: 'backups', prefix: '' }],
    ['../repo', { kind: 'fs', path: '/srv/repo' }],
    ['/var/lib/drkit', { kind: 'fs', path: '/var/lib/drkit' }],
  ])('reads repository %s', (url, expected) => {
    const plan = parsePlan(`repository: ${url}\nresources: {}`, opts)
    expect(plan.repository).toEqual({ url, ...expected })
  })

  it('normalizes drills and their steps', () => {
    const plan = parsePlan(
      `resources: {}
drills:
  - { name: pitr, resource: app-db, kind: custom, every: quarterly, objectives: { rto: 15m }, steps: [{ wait: 1s }] }
`,
      opts,
    )
    expect(plan.drills).toEqual([
      {
        name: 'pitr',
        resource: 'app-db',
        kind: 'custom',
        every: { kind: 'calendar', unit: 'quarter' },
        objectives: { rtoMs: 900_000 },
        steps: [{ kind: 'wait', ms: 1000 }],
      },
    ])
  })

  it('reads alerts and contacts', () => {
    const plan = parsePlan(
      `resources: {}
alerts:
  - { type: webhook, url: "https://hooks.example.com/drkit", events: [backup.failed] }
  - { type: pagerduty, routingKey: abc123 }
contacts:
  - { role: On-call engineer, contact: "#oncall" }
`,
      opts,
    )
    expect(plan.alerts).toEqual([
      { type: 'webhook', url: 'https://hooks.example.com/drkit', events: ['backup.failed'] },
      { type: 'pagerduty', routingKey: 'abc123' },
    ])
    expect(plan.contacts).toEqual([{ role: 'On-call engineer', contact: '#oncall' }])
  })
})

describe('environment variables', () => {
  const plan = (yaml: string, env: Record<string, string | undefined>) =>
    parsePlan(`resources:\n  main:\n    type: postgres\n${yaml}`, { ...opts, env }).resources.main?.config

  it('replaces ${VAR}, after YAML parsing so that values cannot break the syntax', () => {
    expect(plan('    url: ${DATABASE_URL}', { DATABASE_URL: 'postgres://u:p#1@db/app' })).toMatchObject({
      url: 'postgres://u:p#1@db/app',
    })
    expect(plan('    url: "x-${A}-${B}"', { A: 'a: b', B: '"b"' })).toMatchObject({ url: 'x-a: b-"b"' })
  })

  it('uses the default when the variable is unset or empty', () => {
    const yaml = '    url: ${DATABASE_URL:-postgres://localhost/app}'
    expect(plan(yaml, {})).toMatchObject({ url: 'postgres://localhost/app' })
    expect(plan(yaml, { DATABASE_URL: '' })).toMatchObject({ url: 'postgres://localhost/app' })
    expect(plan(yaml, { DATABASE_URL: 'postgres://db/app' })).toMatchObject({ url: 'postgres://db/app' })
  })

  it('writes $${ as a literal ${', () => {
    expect(plan('    url: "$${NOT_A_VAR} ${X}"', { X: '$${X}' })).toMatchObject({ url: '${NOT_A_VAR} $${X}' })
  })

  it('reports a missing variable at its path, once', () => {
    const yaml = `resources:
  main: { type: postgres, url: "\${DATABASE_URL}" }
alerts:
  - { type: slack, url: "\${SLACK_URL}" }
`
    expect(issuesOf(() => parsePlan(yaml, opts))).toEqual([
      'resources.main.url: environment variable DATABASE_URL is not set',
      'alerts[0].url: environment variable SLACK_URL is not set',
    ])
  })

  it('reports a malformed placeholder', () => {
    expect(issuesOf(() => plan('    url: "${DATABASE URL}"', {}))).toEqual([
      'resources.main.url: malformed ${...} (use ${NAME} or ${NAME:-default}, or $${ for a literal ${)',
    ])
  })

  it('reads process.env by default', () => {
    process.env.DRKIT_TEST_PLAN_URL = 'postgres://from-env/app'
    try {
      const { env: _, ...withoutEnv } = opts
      const plan = parsePlan('resources: { main: { type: postgres, url: "${DRKIT_TEST_PLAN_URL}" } }', withoutEnv)
      expect(plan.resources.main?.config).toMatchObject({ url: 'postgres://from-env/app' })
    } finally {
      delete process.env.DRKIT_TEST_PLAN_URL
    }
  })
})

describe('issues', () => {
  it('reports every issue at once with its dotted path', () => {
    const yaml = `repository: gs://bucket
resources:
  app-db:
    type: sqlite
    objectives: { rpo: 5 sekonds, rto: 15m }
    snapshots: { schedule: "30 0 * *" }
    retention: { daily: -1 }
    paht: ./data/app.db
  main:
    type: postgres
    url: \${DATABASE_URL}
alerts:
  - { type: webhook }
drills:
  - { name: pitr, kind: pitr, every: fortnightly }
`
    expect(issuesOf(() => parsePlan(yaml, opts))).toEqual([
      'resources.main.url: environment variable DATABASE_URL is not set',
      'repository: "gs://bucket" is not supported (use a folder or s3://bucket/prefix)',
      'resources.app-db.objectives.rpo: "5 sekonds" is not a duration (use for example 500ms, 5s, 15m, 24h or 7d)',
      'resources.app-db.snapshots.schedule: "30 0 * *" is not a cron schedule ' +
        '(5 fields: minute hour day-of-month month day-of-week, for example "30 0 * * *")',
      'resources.app-db.retention.daily: expected 0 or more',
      'resources.app-db.path: required',
      'resources.app-db.paht: unknown option (known: type, objectives, capture, snapshots, retention, path)',
      'alerts[0].url: required',
      'drills[0].every: "fortnightly" is not a drill schedule ' +
        '(use daily, weekly, monthly, quarterly, yearly or a duration such as 12h)',
    ])
  })

  it('puts the issues in the message, under the file name', () => {
    const error = (() => {
      try {
        parsePlan('resources: { a: { type: sqlite } }\nrepo: x', opts)
      } catch (error) {
        return error
      }
    })()
    expect(error).toBeInstanceOf(PlanError)
    expect((error as PlanError).message).toBe(
      '/srv/app/drkit.yaml is not valid:\n' +
        '  - resources.a.path: required\n' +
        '  - repo: unknown option (known: repository, resources, alerts, drills, contacts)',
    )
  })

  it('catches an unknown top-level key', () => {
    expect(issuesOf(() => parsePlan('resources: {}\nalert: []', opts))).toEqual([
      'alert: unknown option (known: repository, resources, alerts, drills, contacts)',
    ])
  })

  it('names an unknown or missing resource type and the known ones', () => {
    expect(issuesOf(() => parsePlan('resources: { x: { type: mysql }, y: { path: a } }', opts))).toEqual([
      'resources.x.type: unknown type "mysql" (known: sqlite, postgres)',
      'resources.y.type: required (known: sqlite, postgres)',
    ])
  })

  it('rejects a bad resource name', () => {
    expect(issuesOf(() => parsePlan('resources: { "app db": { type: sqlite, path: a }, ".x": 1 }', opts))).toEqual([
      'resources.app db: "app db" is not a valid resource name ' +
        '(use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit)',
      'resources..x: ".x" is not a valid resource name ' +
        '(use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit)',
    ])
  })

  it('asks for resources, and for a mapping at the top', () => {
    expect(issuesOf(() => parsePlan('', opts))).toEqual(['resources: required'])
    expect(issuesOf(() => parsePlan('- a', opts))).toEqual(['the plan must be a mapping with at least `resources`'])
  })

  it('names line and column of a YAML syntax error', () => {
    expect(() => parsePlan('resources:\n  a: { type: sqlite\n', opts)).toThrow(
      /^\/srv\/app\/drkit.yaml is not valid YAML:\n {2}- line 3, column 1: /,
    )
    expect(issuesOf(() => parsePlan('resources: {}\nresources: {}\n', opts))).toEqual([
      'line 2, column 1: Map keys must be unique',
    ])
  })
})

describe('loadPlan', () => {
  it('reads the file and resolves the repository against its folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drkit-plan-'))
    try {
      await writeFile(join(dir, 'drkit.yaml'), 'repository: ./backups\nresources: {}\n')
      const plan = await loadPlan(join(dir, 'drkit.yaml'), { resourceTypes, env: {} })
      expect(plan.file).toBe(join(dir, 'drkit.yaml'))
      expect(plan.baseDir).toBe(dir)
      expect(plan.repository).toEqual({ url: './backups', kind: 'fs', path: join(dir, 'backups') })
    } finally {
      await rm(dir, { recursive: true })
    }
  })

  it('says how to get a plan when there is none', async () => {
    const missing = join(tmpdir(), 'drkit-no-such-dir', 'drkit.yaml')
    const error = await loadPlan(missing, { resourceTypes }).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(PlanError)
    expect(error).toMatchObject({
      message: `no drkit.yaml at ${missing}`,
      hint: 'run `drkit init` to write one, or pass --config',
    })
  })
})
