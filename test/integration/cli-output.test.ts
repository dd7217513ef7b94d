/**
 * The built command line over pipes, as scripts use it: a result far larger than a pipe's
 * 64 KiB buffer arrives whole before drkit exits.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

describe('drkit output over a pipe', () => {
  it('a --json result of several hundred KiB arrives whole', async () => {
    const dir = await tempDir('drkit-cli-output-')
    const db = new Database(join(dir, 'wide.db'))
    const tables = 3000
    db.transaction(() => {
      for (let i = 0; i < tables; i++)
        db.exec(
          `CREATE TABLE table_with_a_rather_long_name_${i} (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO table_with_a_rather_long_name_${i} (v) VALUES ('x')`,
        )
    })()
    db.close()
    await writeFile(
      join(dir, 'drkit.yaml'),
      'repository: ./repo\nresources:\n  wide: { type: sqlite, path: ./wide.db }\n',
    )
    for (const args of [['init'], ['backup']]) expect((await runCli(args, { cwd: dir })).code).toBe(0)

    const listed = await runCli(['snapshots', '--json'], { cwd: dir })
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout.length).toBeGreaterThan(4 * 65536)
    const doc = JSON.parse(listed.stdout) as { snapshots: { tables: unknown }[] }
    expect(Object.keys(doc.snapshots[0]!.tables as object)).toHaveLength(tables)
  })
})
