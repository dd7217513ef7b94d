/**
 * Where drkit's time goes: summarises a V8 CPU profile (`node --cpu-prof`) by self time,
 * per function and per source file, so the integrator sees which code dominates.
 */
import { readFile } from 'node:fs/promises'

export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

export interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileRow {
  name: string
  ms: number
  share: number
}

export interface ProfileSummary {
  label: string
  totalMs: number
  /** Self time per function, largest first. */
  functions: ProfileRow[]
  /** Self time per source file (or V8 pseudo-frame such as "(garbage collector)"), largest first. */
  files: ProfileRow[]
}

export async function summarizeProfile(file: string, label: string, root: string, top = 12): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const functions = new Map<string, number>()
  const files = new Map<string, number>()
  let totalUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: bill it to the sample that ends it.
    const us = profile.timeDeltas[i] ?? 0
    const node = byId.get(profile.samples[i]!)
    if (!node) continue
    totalUs += us
    const { functionName, url, lineNumber } = node.callFrame
    const where = shortUrl(url, root)
    const fn = where ? `${functionName || '(anonymous)'} (${where}:${lineNumber + 1})` : functionName || '(anonymous)'
    const area = where || functionName || '(anonymous)'
    functions.set(fn, (functions.get(fn) ?? 0) + us)
    files.set(area, (files.get(area) ?? 0) + us)
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs > 0 ? us / totalUs : 0 }))
  return { label, totalMs: totalUs / 1000, functions: rows(functions), files: rows(files) }
}

function shortUrl(url: string, root: string): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  const rootSlash = root.endsWith('/') ? root : `${root}/`
  return path.startsWith(rootSlash) ? path.slice(rootSlash.length) : path
}

export function renderProfile(p: ProfileSummary): string {
  const table = (title: string, rows: ProfileRow[]) =>
    [
      `| ${title} | self time | share |`,
      '| --- | ---: | ---: |',
      ...rows.map((r) => `| \`${r.name}\` | ${(r.ms / 1000).toFixed(2)} s | ${(r.share * 100).toFixed(1)}% |`),
    ].join('\n')
  return [
    `**${p.label}** (${(p.totalMs / 1000).toFixed(1)} s sampled)`,
    '',
    table('source file, or V8 entry', p.files),
    '',
    table('function', p.functions),
  ].join('\n')
}
