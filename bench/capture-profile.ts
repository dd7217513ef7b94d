/**
 * Where a point-in-time restore spends its time: splits the main thread's CPU profile
 * (`node --cpu-prof`) of `drkit restore --at` into reading and decoding segments, applying
 * changes to SQLite, writing the snapshot's image, garbage collection and waiting. Each
 * sample goes to the innermost frame on its stack that belongs to one of these parts, so
 * native work (JSON.parse, zstd, SQLite's statement execution) counts for the JavaScript
 * function that called it.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CallFrame, CpuProfile } from './profile.js'

export type ReplayPart = 'decode' | 'apply' | 'iterate' | 'image' | 'gc' | 'idle' | 'other'

export const replayPartNames: Record<ReplayPart, string> = {
  decode: 'segment read and decode (`repository/segments.js`, `values.js`, `readChanges`; JSON.parse and zstd inside)',
  apply: 'applying changes to SQLite (`sources/sqlite/replay.js` `apply`; SQLite statement execution inside)',
  iterate: 'the per-change `for await` loop (`replayChanges` itself)',
  image: 'writing the snapshot image (`write-image.js`, `reader.js`, frame pool)',
  gc: '(garbage collector): mostly the objects decoding allocates per change',
  idle: '(idle): waiting for I/O or the frame workers',
  other: 'start-up, timeline, everything else',
}

export interface ReplaySplit {
  totalMs: number
  parts: Record<ReplayPart, number>
}

const endsWith = (url: string, ...suffixes: string[]) => suffixes.some((s) => url.endsWith(s))

function partOf(frame: CallFrame): ReplayPart | undefined {
  const { functionName: fn, url } = frame
  if (fn === '(garbage collector)') return 'gc'
  if (fn === '(idle)') return 'idle'
  if (endsWith(url, '/repository/segments.js', '/repository/values.js')) return 'decode'
  if (url.includes('/ops/') && fn === 'readChanges') return 'decode'
  if (endsWith(url, '/sources/sqlite/replay.js')) return fn === 'replayChanges' ? 'iterate' : 'apply'
  if (endsWith(url, '/sources/sqlite/write-image.js', '/repository/reader.js', '/repository/frame-pool.js'))
    return 'image'
  return undefined
}

export async function splitReplayProfile(file: string): Promise<ReplaySplit> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const memo = new Map<number, ReplayPart>()
  const classify = (id: number): ReplayPart => {
    const known = memo.get(id)
    if (known) return known
    const node = byId.get(id)
    const own = node ? partOf(node.callFrame) : undefined
    const up = parent.get(id)
    const part = own ?? (up === undefined ? 'other' : classify(up))
    memo.set(id, part)
    return part
  }
  const parts: Record<ReplayPart, number> = { decode: 0, apply: 0, iterate: 0, image: 0, gc: 0, idle: 0, other: 0 }
  let totalUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0
    totalUs += us
    parts[classify(profile.samples[i]!)] += us
  }
  for (const k of Object.keys(parts) as ReplayPart[]) parts[k] /= 1000
  return { totalMs: totalUs / 1000, parts }
}

/**
 * The main thread's profile among those `node --cpu-prof` wrote into dir (one per thread:
 * CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, the main thread being thread 0).
 */
export async function mainThreadProfile(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  const main = files.find((f) => f.split('.')[4] === '0') ?? files.sort()[0]
  if (!main) throw new Error(`node --cpu-prof wrote no profile into ${dir}`)
  return join(dir, main)
}
