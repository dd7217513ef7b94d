/**
 * The PostgreSQL source: consistent images of a live database (pg_dump for the schema,
 * COPY for the rows, in one exported snapshot), change capture through logical decoding
 * (pgoutput), restores into a new database with point-in-time replay, and fingerprints.
 * See docs/POSTGRES.md.
 */
import * as z from '../../plan/zod.js'
import type { SourceDefinition } from '../source.js'

export const postgresConfig = z
  .object({
    /** postgres://user[:password]@host:port/dbname */
    url: z.string().min(1),
  })
  .strict()

export type PostgresConfig = z.infer<typeof postgresConfig>

export const postgres: SourceDefinition<PostgresConfig> = {
  type: 'postgres',
  configSchema: postgresConfig,
  // The implementation, with its database driver, loads only when a resource of this type is opened.
  open: (config, ctx) => import('./open.js').then((m) => m.openPostgres(config, ctx)),
}
