import { describe, expect, it } from 'vitest'
import { PlanError } from '../errors.js'
import { parsePlan } from './load.js'

const opts = { baseDir: '/srv/app', resourceTypes: {}, env: {} }

function issuesOf(drills: string): string[] {
  try {
    parsePlan(`resources: {}\ndrills:\n${drills}`, opts)
  } catch (error) {
    if (error instanceof PlanError) return error.issues
    throw error
  }
  throw new Error('expected a PlanError')
}

describe('drills in the plan', () => {
  it('normalizes every step kind', () => {
    const plan = parsePlan(
      `resources: {}
drills:
  - name: rollback
    kind: custom
    resource: app-db
    steps:
      - sql: "INSERT INTO t VALUES (1)"
      - exec: ./deploy.sh bad
        timeout: 10s
      - http: { url: "http://127.0.0.1:8787/health", expect: { status: 200, json: { status: ok } } }
      - fault: { sql: "DELETE FROM t" }
      - restore: { at: before-fault }
      - restore:
      - bookmark: pre
      - assert: { sql: "SELECT count(*) FROM t", equals: 1 }
      - assert: { fingerprint: before-fault }
      - wait: 1s
`,
      opts,
    )
    expect(plan.drills[0]!.steps).toEqual([
      { kind: 'sql', sql: 'INSERT INTO t VALUES (1)' },
      { kind: 'exec', command: './deploy.sh bad', timeoutMs: 10_000 },
      {
        kind: 'http',
        url: 'http://127.0.0.1:8787/health',
        method: 'GET',
        expect: { status: 200, json: { status: 'ok' } },
      },
      { kind: 'fault', sql: 'DELETE FROM t' },
      { kind: 'restore', at: 'before-fault' },
      { kind: 'restore' },
      { kind: 'bookmark', name: 'pre' },
      { kind: 'assert', sql: 'SELECT count(*) FROM t', equals: 1 },
      { kind: 'assert', fingerprint: 'before-fault' },
      { kind: 'wait', ms: 1000 },
    ])
  })

  it('names the drill, the step number and the field of a bad step', () => {
    expect(
      issuesOf(`  - name: gw
    kind: custom
    steps:
      - exec: ./deploy.sh bad
      - http: { expect: { status: 200 } }
      - exec:
      - deploy: now
      - wait: 5 minutes
      - { sql: "SELECT 1", timeout: soon }
`),
    ).toEqual([
      'drills[0].steps[1].http.url: required (drill "gw", step 2 of 6)',
      'drills[0].steps[2].exec: required (drill "gw", step 3 of 6)',
      'drills[0].steps[3]: expected one of sql, exec, http, fault, restore, bookmark, assert, wait, not deploy (drill "gw", step 4 of 6)',
      'drills[0].steps[4].wait: "5 minutes" is not a duration (use for example 500ms, 5s, 15m, 24h or 7d) (drill "gw", step 5 of 6)',
      'drills[0].steps[5].timeout: "soon" is not a duration (use for example 500ms, 5s, 15m, 24h or 7d) (drill "gw", step 6 of 6)',
    ])
  })

  it('says what a kind requires', () => {
    expect(
      issuesOf(`  - { name: a, kind: pitr }
  - { name: b, kind: corruption-undo, resource: app-db }
  - { name: c, kind: custom }
  - { name: d, kind: restore-test, resource: app-db, steps: [{ wait: 1s }] }
  - { name: e, kind: chaos }
`),
    ).toEqual([
      'drills[0].resource: required: the resource this drill recovers (drill "a", kind pitr)',
      'drills[1].fault: required: { sql: ... }, the corruption to undo (drill "b", kind corruption-undo)',
      'drills[2].steps: required: at least one step (drill "c", kind custom)',
      'drills[3].steps: only custom and full-recovery drills have steps (drill "d", kind restore-test)',
      'drills[4].kind: "chaos" is not a drill kind (use restore-test, pitr, corruption-undo, kv-restore, full-recovery, custom)',
    ])
  })
})
