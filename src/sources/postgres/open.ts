/** Opens a postgres resource: the source behind `index.ts`'s definition. */
import { resolve } from 'node:path'
import type { Capture, Source, SourceContext } from '../source.js'
import { openPostgresCapture } from './capture.js'
import { checkUrl, connect, databaseOf, type PgClient, withClient } from './connect.js'
import { fingerprintPostgres } from './fingerprint.js'
import type { PostgresConfig } from './index.js'
import { checkTarget, restorePostgres, restoreSqlFile } from './restore.js'
import { openPostgresRows } from './rows/index.js'
import { snapshotPostgres } from './snapshot.js'

export async function openPostgres(config: PostgresConfig, ctx: SourceContext): Promise<Source> {
  checkUrl(config.url, ctx.resource)
  /** A restore target: the URL of the database to restore into. */
  const targetUrl = (target: string) => {
    checkTarget(target)
    databaseOf(target)
    return target
  }
  let capture: Capture | undefined
  let live: Promise<PgClient> | undefined
  let rows: ReturnType<typeof openPostgresRows> | undefined
  const source: Source = {
    capabilities: { capture: true, partialRestore: 'tables', exactTransactionBoundaries: true, formats: ['sql'] },
    get capture() {
      capture ??= openPostgresCapture(config.url, ctx.resource)
      return capture
    },
    get rows() {
      rows ??= openPostgresRows(config.url, ctx.resource)
      return rows
    },
    snapshot: () => snapshotPostgres(config.url, ctx.resource),
    restore: (image, target, opts) =>
      opts?.format === 'sql'
        ? restoreSqlFile(image, resolve(ctx.baseDir, target), config.url, opts)
        : restorePostgres(image, targetUrl(target), config.url, opts),
    async fingerprint(of, opts) {
      if (of === 'source') {
        live ??= connect(config.url, ctx.resource)
        return fingerprintPostgres(await live, opts?.tables)
      }
      return withClient(targetUrl(of.target), 'the restore target', (c) => fingerprintPostgres(c, opts?.tables))
    },
    async close() {
      await capture?.close()
      await rows?.close()
      const c = await live?.catch(() => undefined)
      await c?.end().catch(() => {})
    },
  }
  return source
}
