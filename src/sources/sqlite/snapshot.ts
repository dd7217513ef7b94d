import { open } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { InternalError } from '../../errors.js'
import type { NamedStream, SourceImage, TableInfo } from '../source.js'
import { provenNow } from './capture.js'
import { listUserTables, quoteIdent } from './schema.js'
import { captureInfo, newestSeqSql } from './triggers.js'
import { checkFrame, readWalIndex, type WalIndex, walFrameHeaderSize } from './wal.js'

/** Pages are read from the main file in blocks of this size. */
const blockSize = 4 * 1024 * 1024

/**
 * A consistent page image of a live database, without a temporary copy:
 *
 * 1. Rollback-journal mode: a read transaction holds a SHARED lock, so no writer can
 *    change the main file until it ends; the file's pages are the image.
 * 2. WAL mode: with the write lock briefly held by a second connection, a read
 *    transaction is opened (pinning the WAL's end) and the WAL is parsed up to its last
 *    commit. The write lock is released at once; the read transaction keeps checkpoints
 *    from overwriting any page the image needs. Each page is the newest committed WAL
 *    frame for it, or else the main file's page. A frame that no longer checks out means
 *    the WAL was restarted, which SQLite only does once every frame is in the main file.
 *
 * Writers wait only while the WAL is parsed (WAL mode) or for the whole read (rollback mode).
 */
export async function snapshotSqlite(path: string, busyTimeoutMs: number): Promise<SourceImage> {
  const reader = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs })
  try {
    const journalMode = String(reader.pragma('journal_mode', { simple: true }))
    let wal: WalIndex | undefined
    if (journalMode === 'wal') {
      const writer = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs })
      try {
        writer.exec('BEGIN IMMEDIATE')
        beginRead(reader)
        wal = await readWalIndex(`${path}-wal`)
      } finally {
        if (writer.inTransaction) writer.exec('ROLLBACK')
        writer.close()
      }
    } else {
      beginRead(reader)
    }
    const pageSize = Number(reader.pragma('page_size', { simple: true }))
    const pageCount = Number(reader.pragma('page_count', { simple: true }))
    const tables = countRows(reader)
    const position = { time: new Date(provenNow()).toISOString(), ...capturePosition(reader) }
    const stream: NamedStream = {
      name: 'main',
      chunking: { kind: 'pages', pageSize },
      data: readPages(path, pageSize, pageCount, wal, reader),
    }
    return {
      position,
      tables,
      details: { pageSize, pageCount, journalMode, sqliteVersion: sqliteVersion(reader) },
      streams: single(stream, reader),
    }
  } catch (err) {
    reader.close()
    throw err
  }
}

/** Where capture stood in the image: its generation and newest change, when installed. */
function capturePosition(db: Database.Database): { generation?: string; seq?: number } {
  const installed = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(captureInfo)
  if (!installed) return {}
  const generation = db.prepare(`SELECT value FROM ${captureInfo} WHERE key = 'generation'`).pluck().get() as string
  return { generation, seq: Number(db.prepare(newestSeqSql).pluck().get()) }
}

function beginRead(db: Database.Database): void {
  db.exec('BEGIN')
  // A read transaction starts at its first read.
  db.prepare('SELECT count(*) FROM sqlite_schema').get()
}

function sqliteVersion(db: Database.Database): string {
  return String(db.prepare('SELECT sqlite_version()').pluck().get())
}

/** User tables and their row counts, as of the read transaction. */
export function countRows(db: Database.Database): TableInfo[] {
  return listUserTables(db).map((name) => ({
    name,
    rows: Number(
      db
        .prepare(`SELECT count(*) FROM ${quoteIdent(name)}`)
        .pluck()
        .get(),
    ),
  }))
}

/** Ends the read transaction and closes the connection when the stream is done or abandoned. */
async function* single(stream: NamedStream, reader: Database.Database): AsyncIterable<NamedStream> {
  try {
    yield stream
  } finally {
    if (reader.open) {
      if (reader.inTransaction) reader.exec('COMMIT')
      reader.close()
    }
  }
}

async function* readPages(
  path: string,
  pageSize: number,
  pageCount: number,
  wal: WalIndex | undefined,
  reader: Database.Database,
): AsyncIterable<Uint8Array> {
  const file = await open(path, 'r')
  const frame = Buffer.alloc(walFrameHeaderSize + pageSize)
  const walFile = wal && wal.pages.size > 0 ? await open(`${path}-wal`, 'r') : undefined
  try {
    const pagesPerBlock = Math.max(1, Math.floor(blockSize / pageSize))
    // One buffer for every block: the page chunker copies pages out before asking for more.
    const buffer = Buffer.alloc(pagesPerBlock * pageSize)
    for (let first = 1; first <= pageCount; first += pagesPerBlock) {
      if (!reader.open) throw new InternalError('the snapshot read transaction ended before the image was read')
      const count = Math.min(pagesPerBlock, pageCount - first + 1)
      // WAL frames first, main file second: a frame that no longer checks out means the WAL
      // was restarted, which implies its pages were already in the main file we read next.
      const overlays: [number, Buffer][] = []
      for (let i = 0; wal && walFile && i < count; i++) {
        const at = wal.pages.get(first + i)
        if (!at) continue
        const { bytesRead } = await walFile.read(frame, 0, frame.length, at.offset)
        const checked = bytesRead === frame.length && checkFrame(frame, wal.salts, at.seed, wal.bigEndian)
        if (checked && checked[0] === at.sum[0] && checked[1] === at.sum[1]) {
          overlays.push([i, Buffer.from(frame.subarray(walFrameHeaderSize))])
        }
      }
      const block = buffer.subarray(0, count * pageSize)
      await file.read(block, 0, block.length, (first - 1) * pageSize)
      for (const [i, page] of overlays) page.copy(block, i * pageSize)
      yield block
    }
  } finally {
    await file.close()
    await walFile?.close()
  }
}
