import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { parsePlan } from './load.js'
import { commonResourceShape, planSchema } from './schema.js'
import { formatInitialPlan } from './template.js'

const resourceTypes = { sqlite: z.object({ path: z.string() }).strict() }

describe('formatInitialPlan', () => {
  it('parses into one protected SQLite database', () => {
    const plan = parsePlan(formatInitialPlan(), { baseDir: '/srv/app', resourceTypes, env: {} })
    expect(plan.repository).toEqual({ url: './.drkit/repo', kind: 'fs', path: '/srv/app/.drkit/repo' })
    expect(plan.resources).toEqual({
      'app-db': {
        name: 'app-db',
        type: 'sqlite',
        config: { path: './data/app.db' },
        objectives: { rpoMs: 5000, rtoMs: 900_000 },
        capture: { intervalMs: 1000 },
        snapshots: { schedule: '30 0 * * *' },
        retention: { last: 7, daily: 30, monthly: 12, pitrMs: 604_800_000 },
      },
    })
  })

  it('shows every top-level and common resource option', () => {
    const text = formatInitialPlan()
    for (const key of [...Object.keys(planSchema(resourceTypes).shape), ...Object.keys(commonResourceShape)]) {
      expect(text).toMatch(new RegExp(`^[ #]*${key}:`, 'm'))
    }
  })
})
