/**
 * The SQLite source: consistent page images of a live database file (WAL or rollback
 * journal), restores into a new file, and fingerprints to compare states.
 */
import * as z from '../../plan/zod.js'
import type { SourceDefinition } from '../source.js'

export const sqliteConfig = z
  .object({
    /** The database file, relative to the plan file's folder. */
    path: z.string().min(1),
  })
  .strict()

export type SqliteConfig = z.infer<typeof sqliteConfig>

export const sqlite: SourceDefinition<SqliteConfig> = {
  type: 'sqlite',
  configSchema: sqliteConfig,
  // The implementation, with its database driver, loads only when a resource of this type is opened.
  open: (config, ctx) => import('./open.js').then((m) => m.openSqlite(config, ctx)),
}
