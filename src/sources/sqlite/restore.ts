import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { DrkitError, IntegrityError, RefusedError } from '../../errors.js'
import type { RestoreOptions, RestoreResult, StoredImage } from '../source.js'
import { keepPart } from './partial.js'
import { replayChanges } from './replay.js'
import { dropCaptureObjects } from './triggers.js'
import { writeImage } from './write-image.js'

/**
 * Writes a page image to a temporary file beside the target, checks that SQLite opens
 * it, then renames it over the target: the target path never holds a half-written file.
 * A partial restore (tables, where) cuts its part out of the whole restored state first.
 */
export async function restoreSqlite(
  image: StoredImage,
  targetPath: string,
  sourcePath: string,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  if (targetPath === sourcePath) {
    throw new RefusedError(
      `the restore target ${targetPath} is the live database itself`,
      'Restore into a new file, check it, then swap it in while the application is stopped.',
    )
  }
  if ((await exists(targetPath)) && !opts.force) {
    throw new RefusedError(
      `the restore target ${targetPath} already exists`,
      'Choose a new path, or pass --force to replace it.',
    )
  }
  await mkdir(dirname(targetPath), { recursive: true })
  const temp = join(dirname(targetPath), `.${basename(targetPath)}.drkit-${randomBytes(4).toString('hex')}`)
  let bytes = 0
  try {
    const file = await open(temp, 'wx')
    try {
      bytes = await writeImage(image, file)
    } finally {
      await file.close()
    }
    checkDatabase(temp, Number(image.details.pageCount))
    await finish(temp, opts)
    if (opts.tables !== undefined || opts.where !== undefined) bytes = await keepPart(temp, opts)
    // One fsync, once the file is final: the kernel writes the image back meanwhile.
    await syncFile(temp)
    // A stale -wal or -journal beside the target would be applied to the new file.
    for (const suffix of ['-wal', '-shm', '-journal']) await rm(targetPath + suffix, { force: true })
    await rename(temp, targetPath)
    await syncDirectory(dirname(targetPath))
  } catch (err) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(temp + suffix, { force: true })
    // SQLite reports a full disk with its own code (a partial restore writes through SQLite).
    if (['ENOSPC', 'SQLITE_FULL'].includes((err as NodeJS.ErrnoException).code ?? '')) {
      throw new DrkitError(`the disk of ${dirname(targetPath)} is full`, 'Free space, or restore elsewhere.', {
        cause: err,
      })
    }
    throw err
  }
  return { target: targetPath, bytes }
}

/** Takes drkit's capture objects out of the restored copy, then replays changes into it. */
async function finish(path: string, opts: RestoreOptions): Promise<void> {
  const db = new Database(path, { fileMustExist: true })
  try {
    // A crash loses only the temporary file, so the restored copy need not be synced per transaction.
    db.pragma('synchronous = OFF')
    db.transaction(() => dropCaptureObjects(db))()
    if (opts.changes) await replayChanges(db, opts.changes)
  } finally {
    db.close()
  }
}

function checkDatabase(path: string, expectedPages: number): void {
  const db = new Database(path, { fileMustExist: true })
  try {
    const pages = Number(db.pragma('page_count', { simple: true }))
    if (Number.isFinite(expectedPages) && pages !== expectedPages) {
      throw new IntegrityError(`the restored database has ${pages} pages instead of ${expectedPages}`)
    }
    db.prepare('SELECT count(*) FROM sqlite_schema').get()
  } finally {
    db.close()
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
