/** Opens a sqlite resource: the source behind `index.ts`'s definition. */
import { open as openFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { DrkitError, PlanError } from '../../errors.js'
import type { Capture, Source, SourceContext } from '../source.js'
import { openSqliteCapture } from './capture.js'
import { fingerprintSqlite } from './fingerprint.js'
import type { SqliteConfig } from './index.js'
import { restoreSqlite } from './restore.js'
import { openSqliteRows } from './rows.js'
import { snapshotSqlite } from './snapshot.js'

/** How long a snapshot waits for a writer to finish its transaction. */
const busyTimeoutMs = 30_000

export async function openSqlite(config: SqliteConfig, ctx: SourceContext): Promise<Source> {
  const path = resolve(ctx.baseDir, config.path)
  const resolveTarget = (target: string) => resolve(ctx.baseDir, target)
  let capture: Capture | undefined
  let rows: ReturnType<typeof openSqliteRows> | undefined
  const source: Source = {
    capabilities: { capture: true, partialRestore: 'tables', exactTransactionBoundaries: false },
    get capture() {
      capture ??= openSqliteCapture(path, busyTimeoutMs)
      return capture
    },
    async snapshot() {
      await checkIsSqlite(path, ctx.resource)
      return snapshotSqlite(path, busyTimeoutMs)
    },
    restore: (image, target, opts) => restoreSqlite(image, resolveTarget(target), path, opts),
    async fingerprint(of, opts) {
      const file = of === 'source' ? path : resolveTarget(of.target)
      await checkIsSqlite(file, of === 'source' ? ctx.resource : file)
      return fingerprintSqlite(file, opts?.tables)
    },
    get rows() {
      rows ??= openSqliteRows(path, {
        resource: ctx.resource,
        busyTimeoutMs,
        check: () => checkIsSqlite(path, ctx.resource),
      })
      return rows
    },
    async close() {
      rows?.close()
      await capture?.close()
    },
  }
  return source
}

const header = Buffer.from('SQLite format 3\0')

/** A clear error for a missing file or one that is not a SQLite database, before SQLite says less. */
async function checkIsSqlite(path: string, what: string): Promise<void> {
  let first: Buffer
  let bytesRead: number
  try {
    const file = await openFile(path, 'r')
    try {
      first = Buffer.alloc(header.length)
      ;({ bytesRead } = await file.read(first, 0, header.length, 0))
    } finally {
      await file.close()
    }
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PlanError(`${what}: there is no database at ${path}`, 'Check the path in drkit.yaml.')
    }
    throw new DrkitError(`${what}: cannot read ${path}`, undefined, { cause })
  }
  // An empty file is an empty database to SQLite: what an application leaves before its first write.
  if (bytesRead > 0 && !first.equals(header)) {
    throw new PlanError(`${what}: ${path} is not a SQLite database`, 'Check the path in drkit.yaml.')
  }
}
