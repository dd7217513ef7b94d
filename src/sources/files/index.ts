/**
 * The files source: snapshots of a directory tree (content-defined chunks per file, with
 * modes, mtimes, symlinks and empty directories), restores into a new directory, whole or
 * by path pattern, and fingerprints to compare two trees. See docs/FILES.md.
 */
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { z } from 'zod'
import { PlanError } from '../../errors.js'
import type { Source, SourceDefinition } from '../source.js'
import { fingerprintFiles } from './fingerprint.js'
import { matchAny } from './pattern.js'
import { restoreFiles } from './restore.js'
import { snapshotFiles } from './snapshot.js'

export const filesConfig = z
  .object({
    /** The directory to protect, relative to the plan file's folder. */
    path: z.string().min(1),
    /** Path patterns relative to the root to leave out: `*.tmp` (any depth), `cache/**` (anchored). */
    exclude: z.array(z.string().min(1)).default([]),
  })
  .strict()

export type FilesConfig = z.infer<typeof filesConfig>

export const files: SourceDefinition<FilesConfig> = {
  type: 'files',
  configSchema: filesConfig,
  async open(config, ctx) {
    const root = resolve(ctx.baseDir, config.path)
    const resolveTarget = (target: string) => resolve(ctx.baseDir, target)
    const excluded = matchAny(config.exclude ?? [])
    const source: Source = {
      capabilities: { capture: false, partialRestore: 'paths', exactTransactionBoundaries: false, reusesParent: true },
      async snapshot(opts) {
        await checkIsDirectory(root, ctx.resource)
        return snapshotFiles(root, excluded, opts?.parent)
      },
      restore: (image, target, opts) => restoreFiles(image, resolveTarget(target), root, opts),
      async fingerprint(of, opts) {
        const dir = of === 'source' ? root : resolveTarget(of.target)
        await checkIsDirectory(dir, of === 'source' ? ctx.resource : dir)
        return fingerprintFiles(dir, excluded, opts?.tables)
      },
      async close() {},
    }
    return source
  },
}

async function checkIsDirectory(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => undefined)
  if (!st) throw new PlanError(`${what}: there is no directory at ${path}`, 'Check the path in drkit.yaml.')
  if (!st.isDirectory()) throw new PlanError(`${what}: ${path} is not a directory`, 'Check the path in drkit.yaml.')
}
