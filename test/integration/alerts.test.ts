/**
 * Alerts against real HTTP receivers on 127.0.0.1: the payload of each notifier type,
 * retries with back-off after failures, a receiver that is down, de-duplication of an
 * ongoing problem (also across processes, through the state file), and the events filter;
 * then each event raised for real by the agent and by verify through the built CLI.
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import {
  AlertDispatcher,
  type DeliveryReport,
  fileAlertState,
  pagerDutyNotifier,
  slackNotifier,
  webhookNotifier,
} from '../../src/alerts/index.js'
import { PlanError } from '../../src/errors.js'
import { parsePlan } from '../../src/plan/index.js'
import { runCli, sqlitePlan } from '../support/cli.js'
import { writeDrillEvidence } from '../support/evidence.js'
import { startReceiver } from '../support/receiver.js'
import { tempDir } from '../support/tmp.js'

const fast = { baseDelayMs: 5, maxDelayMs: 20 }

describe('notifiers', () => {
  it('webhook POSTs exactly { event, message, timestamp, source }, and alert.resolved when it is over', async () => {
    const receiver = await startReceiver()
    const alerts = new AlertDispatcher([{ notifier: webhookNotifier({ url: receiver.url }) }], fast)
    alerts.raise({ event: 'backup.failed', source: 'app-db', message: 'scheduled snapshot failed: disk full' })
    alerts.resolve('backup.failed', 'app-db', 'snapshot 1a2b3c4d taken')
    const reports = await alerts.flush()
    expect(reports.map((r) => [r.action, r.ok])).toEqual([
      ['trigger', true],
      ['resolve', true],
    ])
    const [trigger, resolved] = receiver.received.map((r) => r.body as Record<string, string>)
    expect(Object.keys(trigger!).sort()).toEqual(['event', 'message', 'source', 'timestamp'])
    expect(trigger).toMatchObject({
      event: 'backup.failed',
      message: 'scheduled snapshot failed: disk full',
      source: 'app-db',
    })
    expect(Date.parse(trigger!.timestamp!)).not.toBeNaN()
    expect(Object.keys(resolved!).sort()).toEqual(['event', 'message', 'source', 'timestamp'])
    expect(resolved).toMatchObject({ event: 'alert.resolved', source: 'app-db' })
    expect(resolved!.message).toMatch(/^backup\.failed resolved: snapshot 1a2b3c4d taken/)
    expect(receiver.received[0]!.headers['content-type']).toBe('application/json')
  })

  it('slack gets an incoming-webhook payload: text and a section block', async () => {
    const receiver = await startReceiver()
    const alerts = new AlertDispatcher([{ notifier: slackNotifier({ url: receiver.url }) }], fast)
    alerts.raise({ event: 'rpo.breached', source: 'app-db', message: 'newest recoverable point is 2h old (RPO 5m)' })
    await alerts.flush()
    const body = receiver.received[0]!.body as { text: string; blocks: { type: string; text?: { text: string } }[] }
    expect(body.text).toContain('rpo.breached (app-db): newest recoverable point is 2h old (RPO 5m)')
    expect(body.blocks[0]!.type).toBe('section')
    expect(body.blocks[0]!.text!.text).toContain('*rpo.breached*')
  })

  it('pagerduty gets Events v2: trigger then resolve with one dedup_key', async () => {
    const receiver = await startReceiver({ status: 202 })
    const notifier = pagerDutyNotifier({ routingKey: 'R0UTING', url: receiver.url })
    const alerts = new AlertDispatcher([{ notifier }], fast)
    alerts.raise({ event: 'verify.failed', source: 'app-db', message: 'pack data/ab/… is damaged' })
    alerts.resolve('verify.failed', 'app-db', 'verify passed')
    await alerts.flush()
    const [trigger, resolve] = receiver.received.map((r) => r.body as Record<string, unknown>)
    expect(trigger).toMatchObject({
      routing_key: 'R0UTING',
      event_action: 'trigger',
      dedup_key: 'verify.failed:app-db',
      payload: { source: 'app-db', severity: 'critical', summary: 'verify.failed app-db: pack data/ab/… is damaged' },
    })
    expect(Date.parse((trigger!.payload as { timestamp: string }).timestamp)).not.toBeNaN()
    expect(resolve).toMatchObject({ event_action: 'resolve', dedup_key: 'verify.failed:app-db' })
    expect(pagerDutyNotifier({ routingKey: 'k' }).target).toBe('https://events.pagerduty.com')
  })
})

describe('delivery', () => {
  it('retries a receiver that fails first, with back-off, until it takes the alert', async () => {
    const receiver = await startReceiver({ failFirst: 2 })
    const alerts = new AlertDispatcher([{ notifier: webhookNotifier({ url: receiver.url }) }], fast)
    alerts.raise({ event: 'drill.failed', source: 'app-db-pitr', message: 'RTO 20m over the 15m objective' })
    const [report] = await alerts.flush()
    expect(report).toMatchObject({ ok: true, attempts: 3, event: 'drill.failed' })
    expect(receiver.received).toHaveLength(3)
    expect(receiver.received.map((r) => r.body)).toEqual([
      receiver.received[2]!.body,
      receiver.received[2]!.body,
      receiver.received[2]!.body,
    ])
  })

  it('reports a receiver that is down after its tries, and tries again at the next raise', async () => {
    const down = await startReceiver()
    await down.close()
    const seen: DeliveryReport[] = []
    const alerts = new AlertDispatcher([{ notifier: webhookNotifier({ url: down.url }) }], {
      ...fast,
      attempts: 3,
      onDelivery: (r) => seen.push(r),
    })
    const problem = { event: 'rpo.breached', source: 'app-db', message: 'no snapshot for 2h' } as const
    alerts.raise(problem)
    const [report] = await alerts.flush()
    expect(report).toMatchObject({ ok: false, attempts: 3 })
    expect(report!.error).toMatch(/did not answer/)
    expect(seen).toEqual([report])
    // Not remembered as sent: the next check sends it again.
    alerts.raise(problem)
    expect(await alerts.flush()).toHaveLength(1)
  })

  it('does not retry an answer that says the alert itself is wrong (4xx)', async () => {
    const receiver = await startReceiver({ failFirst: 5, failStatus: 400 })
    const alerts = new AlertDispatcher([{ notifier: webhookNotifier({ url: receiver.url }) }], fast)
    alerts.raise({ event: 'backup.failed', source: 'app-db', message: 'x' })
    const [report] = await alerts.flush()
    expect(report).toMatchObject({ ok: false, attempts: 1 })
    expect(report!.error).toMatch(/answered 400: not now/)
  })

  it('sends an ongoing problem once, also from another process sharing the state file, and one-off events each time', async () => {
    const dir = await tempDir()
    const receiver = await startReceiver()
    const file = join(dir, '.drkit', 'alert-state.json')
    const open = () =>
      new AlertDispatcher([{ notifier: webhookNotifier({ url: receiver.url }) }], {
        ...fast,
        state: fileAlertState(file),
      })
    const first = open()
    const breach = { event: 'rpo.breached', source: 'app-db', message: 'newest point 10m old (RPO 5m)' } as const
    first.raise(breach)
    first.raise(breach)
    await first.flush()
    const second = open()
    second.raise({ ...breach, message: 'newest point 11m old (RPO 5m)' })
    second.raise({ event: 'capture.gap', source: 'app-db', message: 'changes 10-12 missing', oneOff: true })
    second.raise({ event: 'capture.gap', source: 'app-db', message: 'changes 20-22 missing', oneOff: true })
    await second.flush()
    expect(receiver.received.map((r) => (r.body as { event: string }).event)).toEqual([
      'rpo.breached',
      'capture.gap',
      'capture.gap',
    ])
    // Resolved, then breached again: a new problem, sent again.
    second.resolve('rpo.breached', 'app-db', 'newest point 1s old')
    second.raise(breach)
    await second.flush()
    expect(receiver.received.map((r) => (r.body as { event: string }).event).slice(3)).toEqual([
      'alert.resolved',
      'rpo.breached',
    ])
  })

  it('sends a notifier only the events its filter names', async () => {
    const all = await startReceiver()
    const drills = await startReceiver()
    const alerts = new AlertDispatcher(
      [
        { notifier: webhookNotifier({ url: all.url }) },
        { notifier: webhookNotifier({ url: drills.url }), events: ['drill.*'] },
      ],
      fast,
    )
    alerts.raise({ event: 'backup.failed', source: 'app-db', message: 'x' })
    alerts.raise({ event: 'drill.overdue', source: 'app-db-pitr', message: 'due since 2026-01-01' })
    await alerts.flush()
    expect(all.received.map((r) => (r.body as { event: string }).event).sort()).toEqual([
      'backup.failed',
      'drill.overdue',
    ])
    expect(drills.received.map((r) => (r.body as { event: string }).event)).toEqual(['drill.overdue'])
  })

  it('returns from raise before the receiver has answered', async () => {
    const receiver = await startReceiver({ failFirst: 1 })
    const alerts = new AlertDispatcher([{ notifier: webhookNotifier({ url: receiver.url }) }], fast)
    alerts.raise({ event: 'backup.failed', source: 'app-db', message: 'x' })
    // raise returned synchronously; nothing has reached the receiver yet.
    expect(receiver.received).toHaveLength(0)
    await receiver.waitFor(1)
    expect((await alerts.flush())[0]).toMatchObject({ ok: true, attempts: 2 })
  })
})

interface Hook {
  event: string
  message: string
  source: string
}

/** The generic webhook bodies received, as `event source` strings (alert.resolved names what ended). */
const seen = (bodies: Hook[]) =>
  bodies.map((b) =>
    b.event === 'alert.resolved' ? `resolved ${b.message.split(' ')[0]} ${b.source}` : `${b.event} ${b.source}`,
  )

describe('alerts from the agent and verify, through the built CLI', () => {
  it('sends each event once while it lasts, to webhook, Slack (which fails first) and PagerDuty, and resolves it', async () => {
    const dir = await tempDir()
    const webhook = await startReceiver()
    const slack = await startReceiver({ failFirst: 1 })
    const pagerduty = await startReceiver({ status: 202 })
    await writeFile(
      join(dir, 'drkit.yaml'),
      sqlitePlan('    objectives: { rpo: 1h, rto: 15m }\n    snapshots: { schedule: "0 3 1 1 *" }\n') +
        `drills:\n  - { name: app-db-pitr, resource: app-db, kind: pitr, every: quarterly }\n` +
        `alerts:\n  - { type: webhook, url: "${webhook.url}" }\n  - { type: slack, url: "${slack.url}" }\n` +
        `  - { type: pagerduty, routingKey: R0UTING, url: "${pagerduty.url}" }\n`,
    )
    // Drills are left out: this test plays the drill results it needs as evidence.
    const agent = async () => {
      const run = await runCli(['agent', '--once', '--no-drills'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
      return run
    }
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)

    // The database is missing: the scheduled snapshot fails, nothing is recoverable, the drill never ran.
    const first = await agent()
    expect(first.stderr).toMatch(/snapshot\.failed/)
    const expected = ['backup.failed app-db', 'drill.overdue app-db-pitr', 'rpo.breached app-db']
    expect(seen(webhook.received.map((r) => r.body as Hook)).sort()).toEqual(expected)
    expect((webhook.received[0]!.body as Hook).message).toMatch(/scheduled snapshot failed/)
    // Slack refused the first delivery and took it on a retry: every alert arrived.
    expect(slack.received).toHaveLength(4)
    const slackTexts = (await slack.waitFor(3)).map((r) => (r.body as { text: string }).text)
    for (const e of ['backup.failed', 'rpo.breached', 'drill.overdue'])
      expect(slackTexts.some((t) => t.includes(e))).toBe(true)
    const pd = pagerduty.received.map((r) => r.body as { event_action: string; dedup_key: string; routing_key: string })
    expect(pd.map((p) => `${p.event_action} ${p.dedup_key}`).sort()).toEqual([
      'trigger backup.failed:app-db',
      'trigger drill.overdue:app-db-pitr',
      'trigger rpo.breached:app-db',
    ])

    // Still missing: ongoing problems, nothing re-sent.
    await agent()
    expect(webhook.received).toHaveLength(3)

    // The database is back: the snapshot is taken and the backup and RPO problems are resolved.
    new Database(join(dir, 'app.db')).exec('CREATE TABLE t (v); INSERT INTO t VALUES (1)').close()
    await agent()
    expect(seen(webhook.received.slice(3).map((r) => r.body as Hook)).sort()).toEqual([
      'resolved backup.failed app-db',
      'resolved rpo.breached app-db',
    ])
    expect(pagerduty.received.slice(3).map((r) => (r.body as { event_action: string }).event_action)).toEqual([
      'resolve',
      'resolve',
    ])

    // A drill that failed: drill.failed is raised; the drill ran, so it is no longer overdue.
    await writeDrillEvidence(dir, [
      {
        time: new Date().toISOString(),
        ok: false,
        body: { name: 'app-db-pitr', resource: 'app-db', reason: 'assertion failed: orders' },
      },
    ])
    await agent()
    const drillAlerts = webhook.received.slice(5).map((r) => r.body as Hook)
    expect(seen(drillAlerts).sort()).toEqual(['drill.failed app-db-pitr', 'resolved drill.overdue app-db-pitr'])
    expect(drillAlerts.find((b) => b.event === 'drill.failed')!.message).toMatch(/assertion failed: orders/)

    // Damage found by verify: verify.failed from the verify command itself, not again from the agent's check.
    await rm(join(dir, 'repo', 'data'), { recursive: true })
    const verify = await runCli(['verify'], { cwd: dir })
    expect(verify.code).toBe(1)
    await agent()
    const verifyAlerts = webhook.received.slice(7).map((r) => r.body as Hook)
    expect(seen(verifyAlerts)).toEqual(['verify.failed app-db'])
    expect(verifyAlerts[0]!.message).toMatch(/snapshots [0-9a-f]{8} cannot be restored/)
  })

  it('sends a capture gap each time one happens', async () => {
    const dir = await tempDir()
    const webhook = await startReceiver()
    await writeFile(
      join(dir, 'drkit.yaml'),
      sqlitePlan('    capture: { interval: 1s }\n') +
        `alerts:\n  - { type: webhook, url: "${webhook.url}", events: [capture.gap] }\n`,
    )
    const db = new Database(join(dir, 'app.db'))
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v)')
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['agent', '--once'], { cwd: dir })).code).toBe(0)
    for (let gap = 0; gap < 2; gap++) {
      for (let i = 0; i < 5; i++) db.prepare('INSERT INTO t (v) VALUES (?)').run(i)
      db.exec('DELETE FROM _drkit_changes')
      db.exec('UPDATE t SET v = v + 1')
      const run = await runCli(['agent', '--once'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
    }
    db.close()
    const bodies = webhook.received.map((r) => r.body as Hook)
    expect(bodies.map((b) => `${b.event} ${b.source}`)).toEqual(['capture.gap app-db', 'capture.gap app-db'])
    expect(bodies[0]!.message).toMatch(/gone from _drkit_changes/)
  })

  it('keeps the work when the receiver is down: the agent finishes, the failure is reported', async () => {
    const dir = await tempDir()
    const down = await startReceiver()
    await down.close()
    await writeFile(
      join(dir, 'drkit.yaml'),
      sqlitePlan('    objectives: { rpo: 1ms }\n    snapshots: { schedule: "0 3 1 1 *" }\n') +
        `alerts:\n  - { type: webhook, url: "${down.url}" }\n`,
    )
    new Database(join(dir, 'app.db')).exec('CREATE TABLE t (v)').close()
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0)
    const run = await runCli(['agent', '--once'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/snapshot\.taken app-db/)
    expect(run.stderr).toMatch(
      /warning: alert rpo\.breached \(app-db\) to webhook http:\/\/127\.0\.0\.1:\d+ not delivered after 5 tries: .*did not answer/,
    )
    const snapshots = await runCli(['snapshots', '--json'], { cwd: dir })
    expect(snapshots.json<{ snapshots: unknown[] }>().snapshots).toHaveLength(1)
  })
})

describe('the alerts of a plan', () => {
  it('refuses an events filter that names no event, listing the known ones', () => {
    const parse = (events: string) =>
      parsePlan(`resources: {}\nalerts:\n  - { type: webhook, url: "http://127.0.0.1:1/x", events: ${events} }\n`, {
        resourceTypes: {},
        baseDir: '/tmp',
      })
    expect(parse('[rpo.breached, drill.*]').alerts[0]!.events).toEqual(['rpo.breached', 'drill.*'])
    expect(() => parse('[backup.failure]')).toThrow(PlanError)
    expect(() => parse('[backup.failure]')).toThrow(
      /alerts\[0\]\.events\[0\]: "backup\.failure" is not an alert event \(use backup\.failed, .*, or an area such as drill\.\*\)/,
    )
  })
})
