import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { RefusedError } from '../../errors.js'

/**
 * Checks that a restore may write to target: never the live tree or a directory that holds
 * it, and an existing entry only when it is an empty directory or with `force`.
 */
export async function checkTarget(target: string, sourceRoot: string, force: boolean): Promise<void> {
  const rel = relative(target, sourceRoot)
  if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep))) {
    throw new RefusedError(
      `the restore target ${target} is, or contains, the live tree ${sourceRoot}`,
      'Restore into a new directory, check it, then move it into place.',
    )
  }
  const st = await lstat(target).catch(() => undefined)
  if (!st || force) return
  if (st.isDirectory() && (await readdir(target)).length === 0) return
  throw new RefusedError(
    `the restore target ${target} already exists and is not an empty directory`,
    'Choose a new directory, or pass --force to replace it.',
  )
}

/** A new, private directory beside target, where the restore is written before it is moved into place. */
export async function makeStaging(target: string): Promise<string> {
  await mkdir(dirname(target), { recursive: true })
  const staging = join(dirname(target), `.${basename(target)}.drkit-${randomBytes(4).toString('hex')}`)
  await mkdir(staging, { mode: 0o700 })
  return staging
}

/** Moves the finished staging directory to target, replacing what is there (already checked). */
export async function moveIntoPlace(staging: string, target: string): Promise<void> {
  const st = await lstat(target).catch(() => undefined)
  if (!st) return rename(staging, target)
  if (st.isDirectory() && (await readdir(target)).length === 0) {
    await rmdir(target)
    return rename(staging, target)
  }
  // --force: the old target is set aside first, so the target path is never half-replaced.
  const old = `${staging}-old`
  await rename(target, old)
  await rename(staging, target)
  await rm(old, { recursive: true, force: true })
}
