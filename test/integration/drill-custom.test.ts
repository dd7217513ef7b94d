/**
 * Custom drills through the built CLI: the deployment-rollback example of the drills issue
 * against a real HTTP server started here, and bad input: an unknown resource, a kind the
 * type cannot do, a bad step shape, a missing command, a command that hangs and a server
 * that is down all end in a clear failure, never a hang.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempDir } from '../support/tmp.js'
import { drill, drkit, ok, sqliteApp, stepSummary } from './drill-support.js'

/** A gateway whose /health reports the deployment written to `dir/state` by deploy.sh. */
async function startGateway(dir: string): Promise<number> {
  await writeFile(join(dir, 'state'), 'ok')
  const server: Server = createServer(async (_req, res) => {
    const status = (await readFile(join(dir, 'state'), 'utf8')).trim()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ status, version: status === 'ok' ? 41 : 42 }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

/** A repository, then a plan with no resources and these drills (written after init, so it may be invalid). */
async function planWith(drills: string): Promise<string> {
  const dir = await tempDir('drkit-drill-custom-')
  await writeFile(join(dir, 'drkit.yaml'), 'repository: ./repo\nresources: {}\n')
  await ok(dir, 'init')
  await writeFile(join(dir, 'drkit.yaml'), `repository: ./repo\nresources: {}\ndrills:\n${drills}`)
  return dir
}

/** A port nothing listens on: one just given up by a server. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('custom drills', () => {
  it('runs the gateway rollback example against a real server', async () => {
    const dir = await tempDir('drkit-drill-rollback-')
    const port = await startGateway(dir)
    await writeFile(
      join(dir, 'deploy.sh'),
      '#!/bin/sh\ncase "$1" in\n  bad) printf drill-bad-deploy > state ;;\n  rollback) printf ok > state ;;\n' +
        '  *) echo "usage: deploy.sh bad|rollback" >&2; exit 64 ;;\nesac\necho "deployed $1"\n',
    )
    await chmod(join(dir, 'deploy.sh'), 0o755)
    const health = `http://127.0.0.1:${port}/health`
    await writeFile(
      join(dir, 'drkit.yaml'),
      `repository: ./repo
resources: {}
drills:
  - name: gateway-rollback
    kind: custom
    steps:
      - exec: ./deploy.sh bad
      - http: { url: "${health}", expect: { status: 200, json: { status: drill-bad-deploy } } }
      - exec: ./deploy.sh rollback
      - http: { url: "${health}", expect: { status: 200, json: { status: ok } } }
    objectives: { rto: 5m }
    every: monthly
`,
    )
    await ok(dir, 'init')
    const { code, doc } = await drill(dir, 'gateway-rollback')
    expect(code).toBe(0)
    const report = doc.reports[0]!
    expect(stepSummary(report)).toEqual(['exec ok', 'http ok', 'exec ok', 'http ok'])
    expect(report.steps[0]!.detail).toBe('deployed bad')
    expect(report.steps[1]!.detail).toBe('200, body contains {"status":"drill-bad-deploy"}')
    expect(report).toMatchObject({ ok: true, rto: { targetMs: 300_000, met: true }, environment: { targets: {} } })
    expect(await readFile(join(dir, 'state'), 'utf8')).toBe('ok')

    // Had the rollback not worked, the last health check says what the server answered.
    await writeFile(join(dir, 'deploy.sh'), '#!/bin/sh\n[ "$1" = bad ] && printf drill-bad-deploy > state\nexit 0\n')
    const broken = await drill(dir, 'gateway-rollback')
    expect(broken.code).toBe(1)
    expect(stepSummary(broken.doc.reports[0]!)).toEqual(['exec ok', 'http ok', 'exec ok', 'http FAILED'])
    expect(broken.doc.reports[0]!.steps[3]!.error).toBe(
      'the JSON body does not match: $.status is "drill-bad-deploy", expected "ok"',
    )
    expect(broken.doc.reports[0]!.issues).toContain('RTO not measured: the recovery was not verified')
  })

  it('reports a missing command, a hanging command and a server that is down as failed steps', async () => {
    const closed = await closedPort()
    const dir = await planWith(`  - name: missing
    kind: custom
    steps:
      - exec: ./no-such-deploy.sh
  - name: hangs
    kind: custom
    steps:
      - exec: sleep 600
        timeout: 500ms
  - name: down
    kind: custom
    steps:
      - http: { url: "http://127.0.0.1:${closed}/health" }
`)
    const { code, doc } = await drill(dir, '--all')
    expect(code).toBe(1)
    const [missing, hangs, down] = doc.reports
    expect(missing!.steps[0]!.error).toMatch(/^`\.\/no-such-deploy\.sh` failed \(command not found\): .*not found/)
    expect(hangs!.steps[0]!.error).toBe('timed out after 500 ms')
    expect(down!.steps[0]!.error).toBe(`http://127.0.0.1:${closed}/health cannot be reached (ECONNREFUSED)`)
    for (const r of doc.reports) expect(r.ok).toBe(false)
  })

  it('refuses bad input before touching anything: exit 2 naming what is wrong', async () => {
    const badStep = await planWith(`  - name: gw
    kind: custom
    steps:
      - exec: ./deploy.sh bad
      - http: { expect: { status: 200 } }
`)
    const step = await drkit(badStep, 'drill', 'gw', '--json')
    expect(step.code).toBe(2)
    expect(step.json<{ error: { message: string } }>().error.message).toContain(
      'drills[0].steps[1].http.url: required (drill "gw", step 2 of 2)',
    )

    const dir = await sqliteApp(`  - { name: ghost, resource: nope, kind: restore-test }
  - { name: kv, resource: app-db, kind: kv-restore }
  - { name: no-copy, kind: custom, steps: [{ sql: "DELETE FROM orders" }] }
`)
    const errorOf = async (name: string) => {
      const run = await drkit(dir, 'drill', name, '--json')
      expect(run.code).toBe(2)
      return run.json<{ error: { message: string } }>().error.message
    }
    expect(await errorOf('ghost')).toMatch(/^there is no resource "nope" in /)
    expect(await errorOf('kv')).toBe(
      'drill "kv": kv-restore is for key-value and file resources, and app-db is of type sqlite',
    )
    expect(await errorOf('no-copy')).toBe(
      'drill "no-copy", step 1 (sql): works on a copy of a resource, and the drill names none (add `resource:`)',
    )
    expect(await errorOf('unknown')).toMatch(/^there is no drill "unknown"/)
    const none = await drkit(dir, 'drill', '--json')
    expect(none.code).toBe(2)
    // Nothing ran, so nothing was recorded.
    const listed = (await ok(dir, 'drills', '--json')).json<{ drills: { last?: unknown }[] }>()
    expect(listed.drills.every((d) => d.last === undefined)).toBe(true)
  })
})
