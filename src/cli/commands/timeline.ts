import { openContext } from '../../ops/context.js'
import { captureLag, readTimeline } from '../../ops/timeline.js'
import type { Command } from '../command.js'
import { requiredPositional } from '../flags.js'

const usage = 'drkit timeline RESOURCE [--json]'
const iso = (ms: number) => new Date(ms).toISOString()

const command: Command = {
  summary: 'generations, snapshots, segments, bookmarks and the recoverable window',
  usage,
  async run({ positionals }, { out, config }) {
    const resource = requiredPositional(positionals, 'RESOURCE', usage)
    const ctx = await openContext({ config })
    try {
      const { timeline, bookmarks } = await readTimeline(ctx, resource)
      const lag = await captureLag(ctx, resource)
      const doc = {
        resource,
        window: timeline.window.map((r) => ({ from: iso(r.from), to: iso(r.to), generation: r.generation ?? null })),
        generations: timeline.generations.map((g) => ({
          id: g.id,
          snapshots: g.snapshots.map((s) => ({ id: s.id, time: iso(s.time), seq: s.seq })),
          segments: g.segments.length,
          changes: g.segments.length > 0 ? { first: g.segments[0]!.first, last: g.segments.at(-1)!.last } : null,
          head: g.head ? { seq: g.head.seq, time: iso(g.head.time) } : null,
          ranges: g.ranges.map((r) => ({ from: iso(r.from), to: iso(r.to) })),
        })),
        snapshotsWithoutCapture: timeline.plainSnapshots.map((s) => ({ id: s.id, time: iso(s.time) })),
        bookmarks: bookmarks.map((b) => ({ name: b.name, time: iso(b.time), generation: b.generation, seq: b.seq })),
        ...(lag ? { lag } : {}),
      }
      if (lag?.warning) out.warn(lag.warning)
      out.result(doc, (d) => {
        const lines = [`${d.resource}: recoverable window`]
        if (d.window.length === 0) lines.push('  (empty: no snapshots yet)')
        for (const w of d.window) lines.push(`  ${w.from === w.to ? w.from : `${w.from} – ${w.to}`}`)
        for (const g of d.generations) {
          lines.push(`generation ${g.id}: ${g.snapshots.length} snapshots, ${g.segments} segments`)
          for (const s of g.snapshots) lines.push(`  snapshot ${s.id.slice(0, 8)} at ${s.time} (change ${s.seq})`)
          if (g.changes) lines.push(`  changes ${g.changes.first} to ${g.changes.last}`)
        }
        for (const s of d.snapshotsWithoutCapture) lines.push(`snapshot ${s.id.slice(0, 8)} at ${s.time} (no capture)`)
        for (const b of d.bookmarks) lines.push(`bookmark ${b.name} at ${b.time}`)
        if (d.lag) {
          const state = d.lag.active ? 'an agent is reading' : 'no agent is reading'
          lines.push(`capture lag: ${d.lag.bytes} bytes of WAL, ${d.lag.seconds.toFixed(1)} s (${state})`)
        }
        return lines.join('\n')
      })
      return 0
    } finally {
      await ctx.close()
    }
  },
}

export default command
