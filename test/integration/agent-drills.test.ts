/**
 * The agent runs due drills, through the built CLI: `drkit agent --once` runs each drill
 * whose `every` makes it due on a real SQLite resource, stores its report (listed by
 * `drkit drills` as the last run), sends drill.failed to a real webhook receiver for the one
 * that fails (once, while it lasts), and leaves alone drills not yet due, drills without
 * `every`, and every drill with --no-drills. Running on, the agent keeps shipping changes
 * while a drill is under way.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createSampleApp } from '../../src/demo/sample-app.js'
import type { DrillListing } from '../../src/ops/drill.js'
import { type CliRun, runCli, startCli } from '../support/cli.js'
import { waitFor } from '../support/pitr-workload.js'
import { startReceiver } from '../support/receiver.js'
import { tempDir } from '../support/tmp.js'

const drills = `drills:
  - { name: weekly-restore, resource: app-db, kind: restore-test, every: weekly }
  - name: broken-query
    resource: app-db
    kind: custom
    steps:
      - sql: "SELECT * FROM no_such_table"
    every: weekly
  - { name: ran-yesterday, resource: app-db, kind: restore-test, every: weekly }
  - { name: on-demand, resource: app-db, kind: restore-test }
`

async function cli(dir: string, ...args: string[]): Promise<CliRun> {
  const run = await runCli(args, { cwd: dir })
  expect(run.code, `drkit ${args.join(' ')}\n${run.stderr}${run.stdout}`).toBe(0)
  return run
}

/** A sample application database protected as `app-db` with capture, a snapshot, and the drills above. */
async function setUp(extra = '', planDrills = drills): Promise<string> {
  const dir = await tempDir('drkit-agent-drills-')
  createSampleApp(join(dir, 'app.db'), { tenants: 3, usersPerTenant: 5 })
  await writeFile(
    join(dir, 'drkit.yaml'),
    'repository: ./repo\nresources:\n  app-db:\n    type: sqlite\n    path: ./app.db\n' +
      `    objectives: { rpo: 1h, rto: 15m }\n    capture: { interval: 1s }\n${planDrills}${extra}`,
  )
  await cli(dir, 'init')
  await cli(dir, 'backup')
  return dir
}

const listed = async (dir: string) =>
  new Map(
    (await cli(dir, 'drills', '--json')).json<{ drills: DrillListing[] }>().drills.map((d) => [d.name, d] as const),
  )

/** The drills a run of the agent started, from its event lines. */
const started = (run: CliRun) => [...run.stderr.matchAll(/drill\.started ([^\s:]+)/g)].map((m) => m[1]).sort()

describe('drkit agent runs due drills', () => {
  it('--once runs the due drills, stores their reports and alerts on the failed one; not-due drills stay put', async () => {
    const receiver = await startReceiver()
    const dir = await setUp(`alerts:\n  - { type: webhook, url: "${receiver.url}" }\n`)
    await cli(dir, 'drill', 'ran-yesterday')
    const before = (await listed(dir)).get('ran-yesterday')!.last!

    const first = await cli(dir, 'agent', '--once')
    expect(started(first)).toEqual(['broken-query', 'weekly-restore'])
    expect(first.stderr).toMatch(/drill\.passed weekly-restore/)
    expect(first.stderr).toMatch(/drill\.failed broken-query: drill broken-query failed: .*no_such_table/)

    const after = await listed(dir)
    expect(after.get('weekly-restore')).toMatchObject({ due: false, last: { ok: true } })
    expect(after.get('broken-query')).toMatchObject({ due: false, last: { ok: false } })
    // Not due: its last run is the one from before the agent.
    expect(after.get('ran-yesterday')!.last).toEqual(before)
    // No `every`: only run when asked.
    expect(after.get('on-demand')!.last).toBeUndefined()

    const hooks = () => receiver.received.map((r) => r.body as { event: string; source: string; message: string })
    const failed = hooks().filter((b) => b.event === 'drill.failed')
    expect(failed.map((b) => b.source)).toEqual(['broken-query'])
    expect(failed[0]!.message).toMatch(/no_such_table/)

    // Next pass: nothing is due, nothing runs, and the ongoing failure is not re-sent.
    const second = await cli(dir, 'agent', '--once')
    expect(started(second)).toEqual([])
    expect(hooks().filter((b) => b.event === 'drill.failed')).toHaveLength(1)
    expect((await listed(dir)).get('weekly-restore')!.last!.id).toBe(after.get('weekly-restore')!.last!.id)
  })

  it('--no-drills leaves due drills to cron', async () => {
    const dir = await setUp()
    const run = await cli(dir, 'agent', '--once', '--no-drills')
    expect(started(run)).toEqual([])
    const after = await listed(dir)
    expect(after.get('weekly-restore')).toMatchObject({ due: true })
    expect(after.get('weekly-restore')!.last).toBeUndefined()
  })

  it('running on, it ships changes while a drill is under way, and the drill ends in its report', async () => {
    // The drill's only step waits for a file the test writes once it has seen a change shipped meanwhile.
    const dir = await setUp(
      '',
      `drills:
  - name: gated
    kind: custom
    steps:
      - exec: "while [ ! -f go ]; do sleep 0.05; done"
        timeout: 60s
    every: weekly
`,
    )
    const agent = startCli(['agent', '--verbose'], { cwd: dir })
    try {
      await waitFor('the drill to start', () => (/drill\.started gated/.test(agent.stderr()) ? true : undefined))
      const mark = agent.stderr().length
      new Database(join(dir, 'app.db'))
        .exec("INSERT INTO tenants (id, name, plan) VALUES ('t-during-drill', 'During', 'free')")
        .close()
      await waitFor('a change shipped during the drill', () =>
        /capture\.shipped app-db: shipped [1-9]\d* changes/.test(agent.stderr().slice(mark)) ? true : undefined,
      )
      expect(agent.stderr()).not.toMatch(/drill\.(passed|failed) gated/)
      await writeFile(join(dir, 'go'), '')
      await waitFor('the drill to pass', () => (/drill\.passed gated/.test(agent.stderr()) ? true : undefined))
    } finally {
      agent.child.kill('SIGTERM')
    }
    const run = await agent.done
    expect(run.code, run.stderr).toBe(0)
    expect((await listed(dir)).get('gated')).toMatchObject({ due: false, last: { ok: true } })
  })
})
