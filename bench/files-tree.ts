/**
 * The files benchmark's tree: many small files, some medium, a few large; half of them
 * compressible text, half random bytes; a pure function of the size and seed, generated once
 * and cached under bench/.work/cache. And the change applied to a copy of it: 1% of the
 * files rewritten, appended to, or (for a large one) given an insertion in the middle.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Rand } from './generate.js'

/** Bump when the layout or the content changes, so cached trees are not reused. */
export const treeVersion = 1
const KiB = 1024
const MiB = 1024 * KiB

/** Deterministic random bytes: AES-256-CTR over zeros, keyed by the seed and a label. */
function randomBytes(seed: number, label: string, n: number): Buffer {
  const key = createHash('sha256').update(`${seed}:${label}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n))
}

/** Compressible text: lines of words, about 4× with zstd. */
function text(r: Rand, n: number): Buffer {
  const lines: string[] = []
  let size = 0
  while (size < n) {
    const line = `${r.int(100_000)} ${r.words(r.between(4, 16))}\n`
    lines.push(line)
    size += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, n)
}

function content(r: Rand, seed: number, label: string, n: number): Buffer {
  return r.next() < 0.5 ? text(r, n) : randomBytes(seed, label, n)
}

export interface TreeInfo {
  path: string
  files: number
  bytes: number
  small: number
  medium: number
  large: number
  generated: boolean
}

/**
 * The cached tree for this size and seed: 20% of the bytes in small files (1 to 32 KiB, a
 * hundred per directory), 40% in medium ones (64 KiB to 4 MiB), 40% in four large ones; an
 * empty directory and a symlink. Written into a temporary folder, renamed when complete.
 */
export async function ensureTree(cacheDir: string, sizeBytes: number, seed: number): Promise<TreeInfo> {
  const path = join(cacheDir, `tree-${sizeBytes}-seed${seed}-v${treeVersion}`)
  const meta = `${path}.json`
  if (existsSync(path) && existsSync(meta)) {
    return { ...(JSON.parse(await readFile(meta, 'utf8')) as TreeInfo), path, generated: false }
  }
  const temp = `${path}.tmp`
  await rm(temp, { recursive: true, force: true })
  const r = new Rand(seed)
  const info = { files: 0, bytes: 0, small: 0, medium: 0, large: 0 }
  const put = async (rel: string, data: Buffer, kind: 'small' | 'medium' | 'large') => {
    await writeFile(join(temp, rel), data)
    info.files++
    info.bytes += data.length
    info[kind]++
  }
  let written = 0
  for (let d = 0; written < sizeBytes * 0.2; d++) {
    const dir = `small/${String(d).padStart(3, '0')}`
    await mkdir(join(temp, dir), { recursive: true })
    for (let f = 0; f < 100 && written < sizeBytes * 0.2; f++) {
      const n = r.between(KiB, 32 * KiB)
      await put(`${dir}/f${f}.dat`, content(r, seed, `${dir}/${f}`, n), 'small')
      written += n
    }
  }
  await mkdir(join(temp, 'medium'), { recursive: true })
  for (let f = 0; written < sizeBytes * 0.6; f++) {
    const n = r.between(64 * KiB, 4 * MiB)
    await put(`medium/m${f}.dat`, content(r, seed, `medium/${f}`, n), 'medium')
    written += n
  }
  await mkdir(join(temp, 'large'), { recursive: true })
  for (let f = 0; f < 4; f++) {
    const n = Math.floor((sizeBytes * 0.4) / 4)
    const data = f % 2 === 0 ? text(r, n) : randomBytes(seed, `large/${f}`, n)
    await put(`large/l${f}.dat`, data, 'large')
  }
  await mkdir(join(temp, 'empty'))
  await symlink('../medium/m0.dat', join(temp, 'large', 'link.dat'))
  await writeFile(meta, `${JSON.stringify(info)}\n`)
  await rename(temp, path)
  return { ...info, path, generated: true }
}

/** Every regular file under dir, relative, sorted. */
async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  const entries = await readdir(join(dir, rel), { withFileTypes: true })
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await listFiles(dir, path)))
    else if (e.isFile()) out.push(path)
  }
  return out
}

export interface ChangeInfo {
  rewritten: number
  appended: number
  inserted: number
  /** Bytes the change wrote (new content, appended and inserted bytes). */
  bytes: number
}

/**
 * Changes 1% of the files of the tree at dir: a third rewritten with new content of the same
 * size, the rest appended to (4 KiB), and one large file given 64 KiB in its middle.
 */
export async function changeTree(dir: string, seed: number): Promise<ChangeInfo> {
  const r = new Rand(seed ^ 0x5eed)
  const files = await listFiles(dir)
  const count = Math.max(3, Math.round(files.length / 100))
  const chosen = new Set<string>()
  while (chosen.size < count - 1) {
    const f = files[r.int(files.length)]!
    if (!f.startsWith('large/')) chosen.add(f)
  }
  const info: ChangeInfo = { rewritten: 0, appended: 0, inserted: 0, bytes: 0 }
  for (const [i, f] of [...chosen].entries()) {
    const path = join(dir, f)
    if (i % 3 === 0) {
      const { size } = await stat(path)
      await writeFile(path, content(r, seed + 1, f, size))
      info.rewritten++
      info.bytes += size
    } else {
      await appendFile(path, content(r, seed + 1, `${f}+`, 4 * KiB))
      info.appended++
      info.bytes += 4 * KiB
    }
  }
  const large = join(dir, 'large', 'l0.dat')
  const data = await readFile(large)
  const middle = data.length >> 1
  await writeFile(large, Buffer.concat([data.subarray(0, middle), text(r, 64 * KiB), data.subarray(middle)]))
  info.inserted++
  info.bytes += 64 * KiB
  return info
}
