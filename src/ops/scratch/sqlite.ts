import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import type { ScratchFactory, ScratchTarget } from './index.js'

/** A scratch SQLite database: a new file in the run's folder. */
export const sqliteScratch: ScratchFactory = {
  sql: true,
  async create(resource, opts) {
    const path = opts.given ? resolve(opts.baseDir, opts.given) : join(opts.dir, `${opts.label}.db`)
    return target(path, resource.config, true)
  },
  async existing(resource, baseDir) {
    return target(resolve(baseDir, (resource.config as { path: string }).path), resource.config, false)
  },
}

function target(path: string, config: unknown, owned: boolean): ScratchTarget {
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(path, { fileMustExist: true, timeout: 30_000 })
    try {
      return fn(db)
    } finally {
      db.close()
    }
  }
  return {
    target: path,
    config: { ...(config as object), path },
    async query(sql) {
      return withDb((db) => {
        const stmt = db.prepare(sql)
        if (!stmt.reader) {
          stmt.run()
          return undefined
        }
        const row = stmt.raw(true).get() as unknown[] | undefined
        return row?.[0]
      })
    },
    async wipe() {
      withDb((db) => {
        const tables = db
          .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
          .pluck()
          .all() as string[]
        // Foreign keys off: every table is emptied, in whatever order.
        db.pragma('foreign_keys = OFF')
        db.transaction(() => {
          for (const t of tables) if (!t.startsWith('_drkit_')) db.exec(`DELETE FROM "${t.replaceAll('"', '""')}"`)
        })()
      })
    },
    async remove() {
      if (!owned) return
      for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(path + suffix, { force: true })
    },
  }
}
