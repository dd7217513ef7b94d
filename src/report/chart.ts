import { formatDuration } from '../plan/index.js'
import { escapeHtml } from './escape.js'

export interface ChartPoint {
  /** ms since the epoch */
  time: number
  /** ms */
  value: number
  ok: boolean
  label: string
}

export interface ChartSpec {
  title: string
  /** For tests and styles: `rto`, `rpo`, `freshness`. */
  metric: string
  resource: string
  points: ChartPoint[]
  /** The objective, drawn as a dashed line; points above it breach it. */
  objectiveMs?: number
}

const width = 640
const height = 240
const pad = { left: 64, right: 16, top: 28, bottom: 36 }

/**
 * A small SVG line chart of measured durations over time against an objective: one circle
 * per measurement (red when it failed or breached the objective), the series as a line,
 * the objective as a dashed line. Inline and self-contained: no fonts, scripts or requests.
 */
export function renderChart(spec: ChartSpec): string {
  const points = [...spec.points].sort((a, b) => a.time - b.time)
  const t0 = Math.min(...points.map((p) => p.time))
  const t1 = Math.max(...points.map((p) => p.time))
  const step = niceStep(Math.max(1, ...points.map((p) => p.value), spec.objectiveMs ?? 0) * 1.1)
  const ticks = Math.ceil((Math.max(1, ...points.map((p) => p.value), spec.objectiveMs ?? 0) * 1.1) / step)
  const top = step * ticks
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const x = (t: number) => pad.left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW)
  const y = (v: number) => pad.top + plotH - (v / top) * plotH
  const parts: string[] = []
  parts.push(`<text x="${pad.left}" y="18" class="title">${escapeHtml(spec.title)}</text>`)
  for (let i = 0; i <= ticks; i++) {
    const v = step * i
    parts.push(
      `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${f(y(v))}" y2="${f(y(v))}"/>`,
      `<text class="tick" x="${pad.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${formatDuration(v)}</text>`,
    )
  }
  if (points.length > 0) {
    // The first date under the left end, the last under the right end, both inside the frame.
    const dates =
      t0 === t1
        ? [[t0, 'middle']]
        : [
            [t0, 'start'],
            [t1, 'end'],
          ]
    for (const [t, anchor] of dates as [number, string][])
      parts.push(
        `<text class="tick" x="${f(x(t))}" y="${height - 12}" text-anchor="${anchor}">${new Date(t).toISOString().slice(0, 10)}</text>`,
      )
  }
  if (spec.objectiveMs !== undefined) {
    const oy = f(y(spec.objectiveMs))
    parts.push(
      `<line class="objective" x1="${pad.left}" x2="${width - pad.right}" y1="${oy}" y2="${oy}"/>`,
      `<text class="objective-label" x="${width - pad.right}" y="${f(y(spec.objectiveMs) - 5)}" text-anchor="end">objective ${formatDuration(spec.objectiveMs)}</text>`,
    )
  }
  if (points.length > 1)
    parts.push(`<polyline class="series" points="${points.map((p) => `${f(x(p.time))},${f(y(p.value))}`).join(' ')}"/>`)
  for (const p of points) {
    const breach = !p.ok || (spec.objectiveMs !== undefined && p.value > spec.objectiveMs)
    parts.push(
      `<circle class="point${breach ? ' breach' : ''}" cx="${f(x(p.time))}" cy="${f(y(p.value))}" r="5" data-value="${p.value}">` +
        `<title>${escapeHtml(`${p.label}: ${formatDuration(p.value)}`)}</title></circle>`,
    )
  }
  return (
    `<svg class="chart" data-metric="${escapeHtml(spec.metric)}" data-resource="${escapeHtml(spec.resource)}" ` +
    `viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(spec.title)}" ` +
    `xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`
  )
}

const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5]

/** A round tick step (1s, 5m, 1h, ...) that divides `max` into at most five intervals. */
function niceStep(max: number): number {
  const found = steps.find((s) => max / s <= 5)
  if (found) return found
  const hours = Math.ceil(max / 5 / 3_600_000)
  return hours * 3_600_000
}

function f(n: number): string {
  return n.toFixed(1)
}
