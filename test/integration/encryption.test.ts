/**
 * Encryption at rest, end to end: an encrypted repository made with `drkit init --encrypt`
 * backs up, captures and restores SQLite to a moment like a plain one (on disk and on S3);
 * its stored objects hold none of the plaintext, its blob ids are keyed hashes, dedup still
 * works; wrong and missing passwords are clear errors; keys are added, removed and changed;
 * one flipped byte is an IntegrityError naming the object, and verify reports it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { type OpsContext, openContext } from '../../src/ops/context.js'
import { restore } from '../../src/ops/restore.js'
import { keys } from '../../src/repository/format.js'
import { type CliRun, runCli, startCli } from '../support/cli.js'
import { fingerprint, writePlan } from '../support/fault-db.js'
import { iso, sleep, waitFor, waitRestorable, writePitrPlan } from '../support/pitr-workload.js'
import { type S3Server, startS3Server } from '../support/s3.js'
import { tempDir } from '../support/tmp.js'

const password = 'correct horse battery staple'
/** A string that appears in the database and must appear nowhere in the repository. */
const marker = 'ZEBRA-QUARTZ-MARKER-9F2C41'

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

/**
 * A WAL database whose rows carry the marker, in text and inside random blobs: zstd stores
 * those bytes as they are, so a plain repository holds the marker and an encrypted one must not.
 */
function createMarkedDb(path: string): Database.Database {
  const db = new Database(path, { timeout: 30_000 })
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, n INTEGER, payload BLOB)')
  const insert = db.prepare('INSERT INTO notes (body, n, payload) VALUES (?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < 400; i++) insert.run(`${marker} note ${i}`, i, markedBlob())
  })()
  return db
}

function markedBlob(): Buffer {
  const blob = randomBytes(1000)
  blob.write(marker, 300)
  return blob
}

async function encryptedSetup(prefix: string, opts: { repo?: string; env?: Record<string, string> } = {}) {
  const dir = await tempDir(prefix)
  const env = { DRKIT_PASSWORD: password, ...opts.env }
  const drkit = (...args: string[]) => runCli(args, { cwd: dir, env })
  return { dir, env, drkit }
}

function expectOk(run: CliRun): CliRun {
  expect(run.code, run.stderr).toBe(0)
  return run
}

async function openWithPassword(dir: string): Promise<OpsContext> {
  const ctx = await openContext({ config: join(dir, 'drkit.yaml'), password })
  onTestFinished(() => ctx.close())
  return ctx
}

describe('an encrypted repository through the CLI', () => {
  it('backs up, captures and restores to a moment; holds no plaintext; names blobs by keyed hashes', async () => {
    const { dir, env, drkit } = await encryptedSetup('drkit-crypt-pitr-')
    const app = join(dir, 'app.db')
    const db = createMarkedDb(app)
    onTestFinished(() => {
      if (db.open) db.close()
    })
    await writePitrPlan(dir, '200ms')
    const init = expectOk(await drkit('init', '--encrypt', '--json'))
    expect(init.json()).toMatchObject({ createdRepository: true, encrypted: true })
    const config = JSON.parse(await readFile(join(dir, 'repo', 'config'), 'utf8'))
    expect(config).toMatchObject({
      version: 2,
      encryption: { cipher: 'aes-256-gcm', ids: 'hmac-sha256', kdf: 'scrypt' },
    })

    const agent = startCli(['agent'], { cwd: dir, env })
    onTestFinished(() => {
      if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL')
    })
    await waitFor('the agent to start', () => {
      if (agent.stderr().includes('agent.started')) return true
      if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.stderr()}`)
      return undefined
    })
    const ctx = await openWithPassword(dir)
    db.prepare('UPDATE notes SET n = n + 1000 WHERE id <= 100').run()
    await sleep(100)
    const moment = Date.now()
    const atMoment = fingerprint(app)
    await sleep(100)
    db.prepare('DELETE FROM notes WHERE id > 300').run()
    db.prepare('INSERT INTO notes (body, n, payload) VALUES (?, ?, ?)').run(`${marker} after`, -1, markedBlob())
    await waitRestorable(ctx, Date.now())
    agent.child.kill('SIGTERM')
    expect((await agent.done).code).toBe(0)
    const latest = fingerprint(app)

    expectOk(await drkit('restore', 'app-db', '--to', './at-moment.db', '--at', iso(moment)))
    expect(fingerprint(join(dir, 'at-moment.db'))).toEqual(atMoment)
    expectOk(await drkit('restore', 'app-db', '--to', './latest.db'))
    expect(fingerprint(join(dir, 'latest.db'))).toEqual(latest)
    expect(latest).not.toEqual(atMoment)

    // Dedup: a second snapshot of an unchanged database stores no new chunk.
    db.close()
    expectOk(await drkit('backup'))
    const again = expectOk(await drkit('backup', '--json')).json<{ snapshots: { newBytes: number }[] }>()
    expect(again.snapshots[0]!.newBytes).toBe(0)
    expect(expectOk(await drkit('verify', '--read-data', '--json')).json()).toMatchObject({ ok: true, problems: [] })

    // No stored object holds the marker; the restored files do (the test would catch a plain repository).
    expect((await readFile(join(dir, 'latest.db'))).includes(marker)).toBe(true)
    const files = await filesUnder(join(dir, 'repo'))
    expect(files.some((f) => f.includes('/segments/'))).toBe(true)
    expect(files.some((f) => f.includes('/heads/'))).toBe(true)
    for (const file of files) expect((await readFile(file)).includes(marker), file).toBe(false)
    // The control: a plain repository of the same database does hold it.
    await writeFile(
      join(dir, 'plain.yaml'),
      'repository: ./plain\nresources:\n  app-db:\n    type: sqlite\n    path: ./app.db\n',
    )
    expectOk(await drkit('-c', 'plain.yaml', 'init'))
    expectOk(await runCli(['-c', 'plain.yaml', 'backup'], { cwd: dir }))
    const plainFiles = await filesUnder(join(dir, 'plain'))
    expect((await Promise.all(plainFiles.map((f) => readFile(f)))).some((bytes) => bytes.includes(marker))).toBe(true)

    // Blob ids are keyed hashes: none is the SHA-256 of its chunk's plaintext.
    const repository = await ctx.repository()
    const [snapshot] = (await repository.listSnapshots('app-db')).slice(-1)
    const reader = await repository.blobReader()
    const ids: string[] = []
    for await (const id of reader.chunkIds(snapshot!.streams[0]!, 'test')) ids.push(id)
    const digests = new Set<string>()
    for await (const chunk of repository.readStream(snapshot!.streams[0]!, 'test')) {
      digests.add(createHash('sha256').update(chunk).digest('hex'))
    }
    expect(ids.length).toBeGreaterThan(1)
    expect(ids.filter((id) => digests.has(id))).toEqual([])
    const listed = files.map((f) => f.slice(f.lastIndexOf('/') + 1))
    expect(listed.filter((name) => digests.has(name))).toEqual([])
  })

  it('says what to do about a missing or wrong password; a password file works', async () => {
    const { dir, drkit } = await encryptedSetup('drkit-crypt-password-')
    await writePlan(dir, { 'app-db': './app.db' })
    createMarkedDb(join(dir, 'app.db')).close()
    const refused = await runCli(['init', '--encrypt', '--json'], { cwd: dir })
    expect(refused.code).toBe(2)
    expect(refused.json<{ error: { hint: string } }>().error.hint).toMatch(/DRKIT_PASSWORD.*--password-file/)
    expect(await filesUnder(dir)).not.toContain(join(dir, 'repo', 'config'))
    expectOk(await drkit('init', '--encrypt'))
    expectOk(await drkit('backup'))

    const missing = await runCli(['snapshots', '--json'], { cwd: dir })
    expect(missing.code).toBe(2)
    const missingError = missing.json<{ error: { message: string; hint: string } }>().error
    expect(missingError.message).toMatch(/is encrypted and no password was given/)
    expect(missingError.hint).toMatch(/DRKIT_PASSWORD.*--password-file FILE/)

    const wrong = await runCli(['snapshots'], { cwd: dir, env: { DRKIT_PASSWORD: 'not it' } })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/wrong password: no key in .*repo opens with it/)
    expect(wrong.stdout).toBe('')

    await writeFile(join(dir, 'pw.txt'), `${password}\n`)
    const fromFile = await runCli(['--password-file', 'pw.txt', 'snapshots', '--json'], { cwd: dir })
    expect(expectOk(fromFile).json<{ snapshots: unknown[] }>().snapshots).toHaveLength(1)
    // The file wins over the environment.
    const both = await runCli(['snapshots', '--password-file', 'pw.txt'], { cwd: dir, env: { DRKIT_PASSWORD: 'x' } })
    expectOk(both)
    const noFile = await runCli(['snapshots', '--password-file', 'nope.txt'], { cwd: dir })
    expect(noFile.code).toBe(2)
    expect(noFile.stderr).toMatch(/cannot read the password file nope.txt/)
  })

  it('adds, lists, removes and changes passwords', async () => {
    const { dir, drkit } = await encryptedSetup('drkit-crypt-keys-')
    await writePlan(dir, { 'app-db': './app.db' })
    createMarkedDb(join(dir, 'app.db')).close()
    expectOk(await drkit('init', '--encrypt'))
    expectOk(await drkit('backup'))
    const as = (pw: string, ...args: string[]) => runCli(args, { cwd: dir, env: { DRKIT_PASSWORD: pw } })
    type KeyDoc = { keys: { id: string; current: boolean; kdf: string; host: string; user: string; created: string }[] }

    const first = expectOk(await drkit('key', 'list', '--json')).json<KeyDoc>().keys
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ current: true, kdf: 'scrypt N=32768 r=8 p=1' })

    const noNew = await drkit('key', 'add')
    expect(noNew.code).toBe(2)
    expect(noNew.stderr).toMatch(/DRKIT_NEW_PASSWORD/)
    await writeFile(join(dir, 'second.txt'), 'second password\n')
    const added = expectOk(await drkit('key', 'add', '--new-password-file', 'second.txt', '--json')).json<{
      id: string
    }>()
    const both = expectOk(await as('second password', 'key', 'list', '--json')).json<KeyDoc>().keys
    expect(both.map((k) => [k.id, k.current]).sort()).toEqual(
      [
        [first[0]!.id, false],
        [added.id, true],
      ].sort(),
    )

    const inUse = await drkit('key', 'remove', first[0]!.id.slice(0, 8))
    expect(inUse.code).toBe(1)
    expect(inUse.stderr).toMatch(/in use/)
    expectOk(await as('second password', 'key', 'remove', first[0]!.id.slice(0, 8)))
    expect((await drkit('snapshots')).stderr).toMatch(/wrong password/)
    const last = await as('second password', 'key', 'remove', added.id)
    expect(last.code).toBe(1)
    expect(last.stderr).toMatch(/last key/)

    const changed = await runCli(['key', 'passwd', '--json'], {
      cwd: dir,
      env: { DRKIT_PASSWORD: 'second password', DRKIT_NEW_PASSWORD: 'third password' },
    })
    expect(expectOk(changed).json()).toMatchObject({ removed: added.id })
    expect((await as('second password', 'snapshots')).code).toBe(2)
    const keysNow = expectOk(await as('third password', 'key', 'list', '--json')).json<KeyDoc>().keys
    expect(keysNow).toHaveLength(1)
    expectOk(await as('third password', 'restore', 'app-db', '--to', './restored.db'))
    expect(fingerprint(join(dir, 'restored.db'))).toEqual(fingerprint(join(dir, 'app.db')))
  })

  it('reports one flipped byte as an IntegrityError naming the object, and verify finds it', async () => {
    const { dir, drkit } = await encryptedSetup('drkit-crypt-tamper-')
    await writePlan(dir, { 'app-db': './app.db' })
    createMarkedDb(join(dir, 'app.db')).close()
    expectOk(await drkit('init', '--encrypt'))
    expectOk(await drkit('backup'))
    const [pack] = (await filesUnder(join(dir, 'repo', 'data'))).filter((f) => !f.endsWith('.tmp'))
    const bytes = await readFile(pack!)
    bytes[20]! ^= 0x01
    await writeFile(pack!, bytes)
    const packId = pack!.slice(pack!.lastIndexOf('/') + 1)

    const restored = await drkit('restore', 'app-db', '--to', './restored.db', '--json')
    expect(restored.code).toBe(1)
    const error = restored.json<{ error: { code: string; message: string } }>().error
    expect(error.code).toBe('integrity')
    expect(error.message).toContain(`pack ${packId.slice(0, 12)}`)
    expect(error.message).toMatch(/fails authentication/)

    const verified = await drkit('verify', '--read-data', '--json')
    expect(verified.code).toBe(1)
    const doc = verified.json<{ ok: boolean; problems: { object: string; snapshots: string[] }[] }>()
    expect(doc.ok).toBe(false)
    expect(doc.problems.map((p) => p.object)).toContain(keys.pack(packId))
    expect(doc.problems.find((p) => p.object === keys.pack(packId))?.snapshots).toHaveLength(1)
  })
})

describe('an encrypted repository on S3', () => {
  let server: S3Server
  beforeAll(async () => {
    server = await startS3Server()
  })
  afterAll(() => server?.stop())

  it('backs up and restores through the library; no object holds plaintext', async () => {
    const url = `s3://${server.bucket}/crypt/${randomUUID()}`
    const { dir, drkit } = await encryptedSetup('drkit-crypt-s3-', { env: server.env })
    await writePlan(dir, { 'app-db': './app.db' }, url)
    const db = createMarkedDb(join(dir, 'app.db'))
    db.close()
    expect(expectOk(await drkit('init', '--encrypt', '--json')).json()).toMatchObject({ encrypted: true })
    const saved = { ...process.env }
    Object.assign(process.env, server.env)
    onTestFinished(() => {
      for (const key of Object.keys(server.env)) {
        if (saved[key] === undefined) delete process.env[key]
        else process.env[key] = saved[key]
      }
    })
    const ctx = await openWithPassword(dir)
    await backup(ctx, 'app-db')
    await restore(ctx, { resource: 'app-db', target: join(dir, 'restored.db') })
    expect(fingerprint(join(dir, 'restored.db'))).toEqual(fingerprint(join(dir, 'app.db')))
    expect(expectOk(await drkit('verify', '--read-data', '--json')).json()).toMatchObject({ ok: true })

    const repository = await ctx.repository()
    let objects = 0
    for await (const { key } of repository.backend.list('')) {
      objects++
      expect(Buffer.from(await repository.backend.get(key)).includes(marker), key).toBe(false)
    }
    expect(objects).toBeGreaterThan(3)
    const wrong = await runCli(['snapshots'], { cwd: dir, env: { ...server.env, DRKIT_PASSWORD: 'nope' } })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain(`wrong password: no key in ${url}`)
  })
})
