import { mkdir, readdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { ScratchFactory, ScratchTarget } from './index.js'

/** A scratch directory tree: a new folder in the run's folder. */
export const filesScratch: ScratchFactory = {
  sql: false,
  async create(resource, opts) {
    const path = opts.given ? resolve(opts.baseDir, opts.given) : join(opts.dir, opts.label)
    return target(path, resource.config, true)
  },
  async existing(resource, baseDir) {
    return target(resolve(baseDir, (resource.config as { path: string }).path), resource.config, false)
  },
}

function target(path: string, config: unknown, owned: boolean): ScratchTarget {
  return {
    target: path,
    config: { ...(config as object), path },
    async wipe() {
      await mkdir(path, { recursive: true })
      for (const entry of await readdir(path)) await rm(join(path, entry), { recursive: true, force: true })
    },
    async remove() {
      if (owned) await rm(path, { recursive: true, force: true })
    },
  }
}
