/**
 * Deduplication of SQLite page images across snapshots: an unchanged database stores
 * nothing new, an update of ~1% of the rows of a ~20 MiB database stores a fraction of
 * it (page-aligned chunks: only the touched pages are new), and rows inserted in the
 * middle of an indexed table do not make every later page new. Each snapshot restores
 * to its own contents.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { backup } from '../../src/ops/backup.js'
import { restore } from '../../src/ops/restore.js'
import type { Fingerprint } from '../../src/sources/index.js'
import {
  integrityCheck,
  openSqliteRepo,
  type SqliteRepo,
  seededRandom,
  seededText,
} from '../support/sqlite-correctness.js'
import { tempDir } from '../support/tmp.js'

const seed = 4242
const rows = 100_000
const payloadChars = 160
/** Ids are spaced so that rows can be inserted between them. */
const idStep = 10

function key(id: number): string {
  return `item-${String(id).padStart(10, '0')}`
}

/** ~20 MiB: `items` with an index on `k`, which sorts like the id. */
function createItemsDb(path: string, journalMode: 'wal' | 'delete', random: () => number): void {
  const db = new Database(path)
  try {
    db.pragma(`journal_mode = ${journalMode}`)
    db.exec(`
      CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL, qty INTEGER NOT NULL, payload TEXT NOT NULL);
      CREATE INDEX items_k ON items (k);
    `)
    const insert = db.prepare('INSERT INTO items (id, k, qty, payload) VALUES (?, ?, ?, ?)')
    db.transaction(() => {
      for (let i = 1; i <= rows; i++)
        insert.run(i * idStep, key(i * idStep), i % 1000, seededText(random, payloadChars))
    })()
  } finally {
    db.close()
  }
}

async function restoredFingerprint(repo: SqliteRepo, snapshot: string, name: string): Promise<Fingerprint> {
  const target = join(repo.dir, name)
  await restore(repo.ctx, { resource: 'app-db', target, snapshot })
  expect(integrityCheck(target), `${name}: integrity`).toEqual(['ok'])
  const source = await repo.ctx.openSource('app-db')
  try {
    return await source.fingerprint({ target })
  } finally {
    await source.close()
  }
}

async function sourceFingerprint(repo: SqliteRepo): Promise<Fingerprint> {
  const source = await repo.ctx.openSource('app-db')
  try {
    return await source.fingerprint('source')
  } finally {
    await source.close()
  }
}

describe('sqlite snapshots deduplicate by page', () => {
  for (const journalMode of ['delete', 'wal'] as const) {
    test(`unchanged, then ~1% of rows updated (${journalMode} mode, seed ${seed})`, async () => {
      const dir = await tempDir('drkit-sqlite-dedup-')
      const repo = await openSqliteRepo(dir)
      const random = seededRandom(seed)
      try {
        createItemsDb(repo.db, journalMode, random)
        const first = (await backup(repo.ctx, 'app-db')).snapshot
        const firstFingerprint = await sourceFingerprint(repo)
        expect(first.stats.size).toBeGreaterThan(18 * 1024 * 1024)

        const second = (await backup(repo.ctx, 'app-db')).snapshot
        expect(second.stats.size).toBe(first.stats.size)
        expect(second.stats.newBytes, 'an unchanged database stored new data').toBe(0)
        expect(second.stats.storedBytes).toBeLessThan(first.stats.storedBytes * 0.01)

        // Update ~1% of the rows, chosen at random; the rows keep their size.
        const app = new Database(repo.db)
        let updated = 0
        try {
          const update = app.prepare('UPDATE items SET qty = ?, payload = ? WHERE id = ?')
          app.transaction(() => {
            for (let i = 1; i <= rows; i++) {
              if (random() >= 0.01) continue
              update.run((i % 1000) + 1000, seededText(random, payloadChars), i * idStep)
              updated++
            }
          })()
        } finally {
          app.close()
        }
        expect(updated).toBeGreaterThan(rows * 0.008)
        const third = (await backup(repo.ctx, 'app-db')).snapshot
        const thirdFingerprint = await sourceFingerprint(repo)
        const ratio = third.stats.newBytes / third.stats.size
        expect(
          ratio,
          `updating ${updated} of ${rows} rows stored ${third.stats.newBytes} new bytes of ${third.stats.size} ` +
            `(ratio ${ratio.toFixed(4)}, seed ${seed})`,
        ).toBeLessThan(0.4)
        expect(third.stats.newBytes).toBeGreaterThan(0)
        expect(thirdFingerprint).not.toEqual(firstFingerprint)

        expect(await restoredFingerprint(repo, first.id, 'first.db')).toEqual(firstFingerprint)
        expect(await restoredFingerprint(repo, second.id, 'second.db')).toEqual(firstFingerprint)
        expect(await restoredFingerprint(repo, third.id, 'third.db')).toEqual(thirdFingerprint)
      } finally {
        await repo.close()
      }
    })
  }

  test(`rows inserted in the middle of an indexed table (seed ${seed})`, async () => {
    const dir = await tempDir('drkit-sqlite-dedup-')
    const repo = await openSqliteRepo(dir)
    const random = seededRandom(seed + 1)
    try {
      createItemsDb(repo.db, 'delete', random)
      const before = (await backup(repo.ctx, 'app-db')).snapshot
      const beforeFingerprint = await sourceFingerprint(repo)

      // 500 rows between existing ones, in the middle of both the table and its index.
      const app = new Database(repo.db)
      try {
        const insert = app.prepare('INSERT INTO items (id, k, qty, payload) VALUES (?, ?, ?, ?)')
        const middle = (rows / 2) * idStep
        app.transaction(() => {
          for (let i = 0; i < 500; i++) {
            const id = middle + i * idStep + 1 + (i % (idStep - 1))
            insert.run(id, key(id), i, seededText(random, payloadChars))
          }
        })()
      } finally {
        app.close()
      }
      const after = (await backup(repo.ctx, 'app-db')).snapshot
      const afterFingerprint = await sourceFingerprint(repo)
      expect(after.stats.size).toBeGreaterThan(before.stats.size)
      const ratio = after.stats.newBytes / after.stats.size
      expect(
        ratio,
        `inserting 500 rows in the middle stored ${after.stats.newBytes} new bytes of ${after.stats.size} ` +
          `(ratio ${ratio.toFixed(4)}, seed ${seed})`,
      ).toBeLessThan(0.05)

      expect(await restoredFingerprint(repo, before.id, 'before.db')).toEqual(beforeFingerprint)
      const restoredAfter = await restoredFingerprint(repo, after.id, 'after.db')
      expect(restoredAfter).toEqual(afterFingerprint)
      expect(restoredAfter.tables.items?.rows).toBe(rows + 500)
    } finally {
      await repo.close()
    }
  })
})
