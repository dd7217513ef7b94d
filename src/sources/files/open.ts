/** Opens a files resource: the source behind `index.ts`'s definition. */
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { PlanError } from '../../errors.js'
import type { Source, SourceContext } from '../source.js'
import { fingerprintFiles } from './fingerprint.js'
import type { FilesConfig } from './index.js'
import { matchAny } from './pattern.js'
import { restoreFiles } from './restore.js'
import { snapshotFiles } from './snapshot.js'

export async function openFiles(config: FilesConfig, ctx: SourceContext): Promise<Source> {
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
}

async function checkIsDirectory(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => undefined)
  if (!st) throw new PlanError(`${what}: there is no directory at ${path}`, 'Check the path in drkit.yaml.')
  if (!st.isDirectory()) throw new PlanError(`${what}: ${path} is not a directory`, 'Check the path in drkit.yaml.')
}
