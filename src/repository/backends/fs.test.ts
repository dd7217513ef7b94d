import type { FileHandle } from 'node:fs/promises'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { testBackend } from '../../../test/conformance/backend.js'
import { BackendError } from './backend.js'
import { openFsBackend } from './fs.js'

const makeTmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'drkit-'))
const bytes = (text: string) => new TextEncoder().encode(text)

testBackend('fs', async () => {
  const root = await makeTmp()
  return { backend: await openFsBackend(root), cleanup: () => fs.rm(root, { recursive: true, force: true }) }
})

describe('fs backend', () => {
  let root: string
  beforeEach(async () => {
    root = await makeTmp()
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await fs.rm(root, { recursive: true, force: true })
  })

  /** Every file below root, temp files included. */
  const files = async () => {
    const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
    return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)))
  }

  it('opens an existing directory, and a missing one only with create', async () => {
    const missing = path.join(root, 'repo')
    await expect(openFsBackend(missing)).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringContaining(missing),
    })
    const backend = await openFsBackend(missing, { create: true })
    expect(backend.location).toBe(missing)
    expect((await fs.stat(missing)).isDirectory()).toBe(true)
    await fs.writeFile(path.join(root, 'file'), 'x')
    await expect(openFsBackend(path.join(root, 'file'))).rejects.toMatchObject({ kind: 'fatal' })
  })

  it('stores objects as files below root and leaves no temp files, also after failed puts', async () => {
    const backend = await openFsBackend(root)
    await backend.put('data/ab/1', bytes('one'))
    await backend.put('data/ab/1', bytes('one'), { ifAbsent: true })
    await backend.put('x/y', bytes('two'))
    // A directory where the file should go fails the rename (or the link) after the temp file is written.
    await expect(backend.put('x', bytes('three'))).rejects.toMatchObject({ kind: 'fatal' })
    await expect(backend.put('x', bytes('three'), { ifAbsent: true })).rejects.toMatchObject({ kind: 'fatal' })
    expect((await files()).sort()).toEqual(['data/ab/1', 'x/y'])
  })

  it('leaves no object when a put fails midway, and maps ENOSPC to no-space', async () => {
    const backend = await openFsBackend(root)
    await backend.put('data/old', bytes('old'))
    // Simulated: the disk fills up while the temp file is flushed (a real ENOSPC needs a full filesystem).
    const probe = await fs.open(os.devNull)
    const handleProto = Object.getPrototypeOf(probe) as FileHandle
    await probe.close()
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, fsync'), { code: 'ENOSPC' })
    vi.spyOn(handleProto, 'sync').mockRejectedValueOnce(enospc()).mockRejectedValueOnce(enospc())

    const failed = await backend.put('data/new', bytes('new')).catch((err: unknown) => err)
    expect(failed).toBeInstanceOf(BackendError)
    expect(failed).toMatchObject({ kind: 'no-space', message: expect.stringContaining(`the disk at ${root} is full`) })
    expect((failed as BackendError).hint).toMatch(/nothing was committed/)
    await expect(backend.put('data/old', bytes('replacement'))).rejects.toMatchObject({ kind: 'no-space' })

    expect(await backend.stat('data/new')).toBeUndefined()
    expect(new TextDecoder().decode(await backend.get('data/old'))).toBe('old')
    expect(await files()).toEqual(['data/old'])
  })
})
