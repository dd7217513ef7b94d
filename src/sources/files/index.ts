/**
 * The files source: snapshots of a directory tree (content-defined chunks per file, with
 * modes, mtimes, symlinks and empty directories), restores into a new directory, whole or
 * by path pattern, and fingerprints to compare two trees. See docs/FILES.md.
 */
import * as z from '../../plan/zod.js'
import type { SourceDefinition } from '../source.js'

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
  // The implementation, with its database driver, loads only when a resource of this type is opened.
  open: (config, ctx) => import('./open.js').then((m) => m.openFiles(config, ctx)),
}
