/**
 * `drkit runbook`: generated from the plan, with every `drkit` command line in it parsed
 * against the real CLI (in process, and a sample through the built binary with --help),
 * so that the runbook cannot drift from the commands it tells people to run.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCommandLine } from '../../src/cli/main.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

const plan = `repository: ./repo
resources:
  app-db:
    type: sqlite
    path: ./data/app.db
    objectives: { rpo: 5s, rto: 15m }
    capture: { interval: 1s }
    snapshots: { schedule: "30 0 * * *" }
    retention: { daily: 30, monthly: 12 }
  cache:
    type: redis
    url: redis://:s3cret@127.0.0.1:6379/4
    objectives: { rpo: 24h, rto: 5m }
  uploads:
    type: files
    path: ./uploads
drills:
  - { name: app-db-pitr, resource: app-db, kind: pitr, every: quarterly }
  - { name: cache-restore, resource: cache, kind: kv-restore, every: 30d }
contacts:
  - { role: On-call engineer, contact: "#oncall" }
  - { role: Database owner, contact: "dba@example.com" }
`

/** The words of a shell command line: quotes removed, stopping at a redirection or a comment. */
function words(line: string): string[] {
  const out: string[] = []
  for (const match of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    const word = match[3]
    if (word === '>' || word?.startsWith('#')) break
    out.push(match[1] ?? match[2] ?? word!)
  }
  return out
}

/** Every drkit command line of a runbook: in code blocks, and in `inline code`. */
function commandLines(markdown: string): string[] {
  const lines: string[] = []
  let inCode = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode
    else if (inCode && line.startsWith('drkit ')) lines.push(line)
    else if (!inCode) for (const m of line.matchAll(/`(drkit [^`]+)`/g)) lines.push(m[1]!.replace(/ > .*$/, ''))
  }
  return lines
}

async function generate(file = 'drkit.yaml'): Promise<{ dir: string; markdown: string }> {
  const dir = await tempDir()
  await writeFile(join(dir, file), plan)
  await mkdir(join(dir, 'uploads'))
  const run = await runCli(['runbook', ...(file === 'drkit.yaml' ? [] : ['--config', file])], { cwd: dir })
  expect(run.code, run.stderr).toBe(0)
  return { dir, markdown: run.stdout }
}

describe('drkit runbook', () => {
  it('names every resource, objective, drill and contact of the plan, and no secret', async () => {
    const { markdown } = await generate()
    expect(markdown).toMatch(/^# Recovery runbook: .*drkit\.yaml$/m)
    expect(markdown).toContain('| On-call engineer | #oncall |')
    expect(markdown).toContain('| Database owner | dba@example.com |')
    expect(markdown).toContain('| app-db | sqlite | 5s | 15m | every 1s | 30 0 * * * | daily 30, monthly 12 |')
    expect(markdown).toContain('| cache | redis | 1d | 5m | no | none | keep everything |')
    expect(markdown).toContain('| app-db-pitr | pitr | app-db | quarterly | not set |')
    expect(markdown).toContain('| cache-restore | kv-restore | cache | every 30d | not set |')
    for (const section of [
      '## 2. app-db (sqlite, ./data/app.db)',
      '## 3. cache (redis',
      '## 4. uploads (files, ./uploads)',
    ])
      expect(markdown).toContain(section)
    // Undo applies to captured resources only.
    expect(markdown).toContain('drkit undo app-db --from "$FROM" --to "$TO" --dry-run')
    expect(markdown).not.toMatch(/drkit undo (cache|uploads)/)
    expect(markdown).toContain('drkit restore cache --to redis://127.0.0.1:6379/5 --at "$AT"')
    expect(markdown).not.toContain('s3cret')
    expect(markdown).toMatch(/^## After the incident$/m)
    expect(markdown).toContain('- [ ] Take a fresh snapshot of app-db: `drkit backup app-db`.')
  })

  it('has only command lines the CLI accepts', async () => {
    for (const file of ['drkit.yaml', 'prod.yaml']) {
      const { dir, markdown } = await generate(file)
      const lines = commandLines(markdown)
      expect(lines.length).toBeGreaterThan(20)
      const commands = new Set<string>()
      for (const line of lines) {
        const argv = words(line).slice(1)
        await expect(parseCommandLine(argv), line).resolves.toBeDefined()
        const { command } = await parseCommandLine(argv)
        commands.add(command.usage.split(' ')[1]!)
        if (file !== 'drkit.yaml') expect(argv.slice(0, 2), line).toEqual(['--config', file])
      }
      expect([...commands].sort()).toEqual(
        expect.arrayContaining([
          'backup',
          'bookmarks',
          'diff',
          'report',
          'restore',
          'snapshots',
          'status',
          'timeline',
          'undo',
          'verify',
        ]),
      )
      // And through the built binary, as a reader would run them, one per command.
      const sample = new Map<string, string>()
      for (const line of lines)
        sample.set(words(line).find((w) => !w.startsWith('-') && w !== file && w !== 'drkit')!, line)
      for (const line of sample.values()) {
        const run = await runCli([...words(line).slice(1), '--help'], { cwd: dir })
        expect(run.code, `${line}\n${run.stderr}`).toBe(0)
        expect(run.stdout).toMatch(/^Usage: drkit /)
      }
    }
  })

  it('catches a command line the CLI would refuse (the check has teeth)', async () => {
    await expect(parseCommandLine(['restore', 'app-db', '--to', 'x', '--at-time', 'y'])).rejects.toThrow(
      /Unknown option/,
    )
    await expect(parseCommandLine(['recover', 'app-db'])).rejects.toThrow(/unknown command "recover"/)
  })
})
