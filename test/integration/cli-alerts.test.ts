/**
 * Commands run by hand or from cron alert like the agent does: `drkit backup` sends
 * backup.failed to a real webhook receiver when a resource cannot be backed up (still
 * backing up the others), once while the failure lasts, and alert.resolved after the next
 * successful backup; `drkit drill` sends drill.failed for a failing drill.
 */
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createSampleApp } from '../../src/demo/sample-app.js'
import { type CliRun, runCli } from '../support/cli.js'
import { startReceiver } from '../support/receiver.js'
import { tempDir } from '../support/tmp.js'

interface Hook {
  event: string
  source: string
  message: string
}

async function setUp(hookUrl: string): Promise<string> {
  const dir = await tempDir('drkit-cli-alerts-')
  createSampleApp(join(dir, 'app.db'), { tenants: 2, usersPerTenant: 3 })
  createSampleApp(join(dir, 'other.db'), { tenants: 2, usersPerTenant: 3 })
  await writeFile(
    join(dir, 'drkit.yaml'),
    'repository: ./repo\nresources:\n' +
      '  app-db: { type: sqlite, path: ./app.db }\n' +
      '  other-db: { type: sqlite, path: ./other.db }\n' +
      'drills:\n' +
      '  - { name: broken-query, resource: app-db, kind: custom, steps: [ { sql: "SELECT * FROM no_such_table" } ] }\n' +
      `alerts:\n  - { type: webhook, url: "${hookUrl}" }\n`,
  )
  const init = await runCli(['init'], { cwd: dir })
  expect(init.code, init.stderr).toBe(0)
  return dir
}

const hooks = (received: { body: unknown }[]) => received.map((r) => r.body as Hook)
const explain = (run: CliRun) => `${run.stderr}${run.stdout}`

describe('alerts from commands run by hand', () => {
  it('drkit backup: backup.failed for the resource that failed, once, the others backed up, resolved when it works again', async () => {
    const receiver = await startReceiver()
    const dir = await setUp(receiver.url)
    await rename(join(dir, 'app.db'), join(dir, 'app.db.away'))

    const failed = await runCli(['backup', '--json'], { cwd: dir })
    expect(failed.code, explain(failed)).toBe(1)
    const doc = failed.json<{
      snapshots: { resource: string }[]
      failed: { resource: string; error: { message: string } }[]
    }>()
    expect(doc.snapshots.map((s) => s.resource)).toEqual(['other-db'])
    expect(doc.failed.map((f) => f.resource)).toEqual(['app-db'])
    expect(doc.failed[0]!.error.message).toMatch(/app\.db/)
    expect(hooks(receiver.received)).toEqual([
      expect.objectContaining({ event: 'backup.failed', source: 'app-db', message: expect.stringMatching(/app\.db/) }),
    ])

    // Still failing: the ongoing problem is not sent again; alone, the failure is the command's error
    // (a missing database is a problem with the plan: exit 2, with the hint).
    const again = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(again.code, explain(again)).toBe(2)
    expect(again.stderr).toMatch(/no database at .*app\.db\nCheck the path/)
    expect(hooks(receiver.received)).toHaveLength(1)

    await rename(join(dir, 'app.db.away'), join(dir, 'app.db'))
    const fixed = await runCli(['backup', 'app-db'], { cwd: dir })
    expect(fixed.code, explain(fixed)).toBe(0)
    expect(hooks(receiver.received).map((h) => [h.event, h.source])).toEqual([
      ['backup.failed', 'app-db'],
      ['alert.resolved', 'app-db'],
    ])
  })

  it('drkit drill: drill.failed for a failing drill, with its reason', async () => {
    const receiver = await startReceiver()
    const dir = await setUp(receiver.url)
    const backup = await runCli(['backup'], { cwd: dir })
    expect(backup.code, explain(backup)).toBe(0)
    const run = await runCli(['drill', 'broken-query'], { cwd: dir })
    expect(run.code, explain(run)).toBe(1)
    expect(hooks(receiver.received)).toEqual([
      expect.objectContaining({
        event: 'drill.failed',
        source: 'broken-query',
        message: expect.stringMatching(/no_such_table/),
      }),
    ])
  })
})
