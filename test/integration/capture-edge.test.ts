/**
 * Capture edge cases through the built CLI: a table whose column is called `rowid` (the
 * real rowid must be captured and replayed, not the column), and relative moments written
 * as a separate argument (`--at -15m`).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { runCli, sqlitePlan } from '../support/cli.js'
import { tempDir } from '../support/tmp.js'

const rowsOf = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare('SELECT _rowid_ AS id, * FROM t ORDER BY 1').all()
  } finally {
    db.close()
  }
}

async function cli(dir: string, ...args: string[]) {
  const run = await runCli(args, { cwd: dir })
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0)
  return run
}

describe('capture edge cases', () => {
  it('captures and replays the real rowid of a table with a column called rowid', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    capture: { interval: 1s }\n'))
    const app = join(dir, 'app.db')
    const db = new Database(app)
    db.exec("CREATE TABLE t (rowid TEXT, v INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2)")
    await cli(dir, 'init')
    await cli(dir, 'agent', '--once')
    db.exec("UPDATE t SET v = v * 10; DELETE FROM t WHERE v = 20; INSERT INTO t VALUES ('c', 3)")
    db.close()
    await cli(dir, 'bookmark', 'app-db', 'after')
    await cli(dir, 'restore', 'app-db', '--to', 'r.db', '--bookmark', 'after')
    expect(rowsOf(join(dir, 'r.db'))).toEqual(rowsOf(app))
    expect(rowsOf(app)).toEqual([
      { id: 1, rowid: 'a', v: 10 },
      { id: 2, rowid: 'c', v: 3 },
    ])
  })

  it('reads a relative moment given as its own argument', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'drkit.yaml'), sqlitePlan('    capture: { interval: 1s }\n'))
    new Database(join(dir, 'app.db')).exec('CREATE TABLE t (v)').close()
    await cli(dir, 'init')
    await cli(dir, 'agent', '--once')
    const run = await runCli(['restore', 'app-db', '--to', 'r.db', '--at', '-15m'], { cwd: dir })
    // Parsed as a moment (15 minutes ago, before the first snapshot), not as an unknown option.
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/outside app-db's recoverable window/)
  })
})
