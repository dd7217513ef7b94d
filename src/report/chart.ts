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
  const top = Math.max(1, ...points.map((p) => p.value), spec.objectiveMs ?? 0) * 1.15
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const x = (t: number) => pad.left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW)
  const y = (v: number) => pad.top + plotH - (v / top) * plotH
  const parts: string[] = []
  parts.push(`<text x="${pad.left}" y="18" class="title">${escapeHtml(spec.title)}</text>`)
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i
    parts.push(
      `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${f(y(v))}" y2="${f(y(v))}"/>`,
      `<text class="tick" x="${pad.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${formatDuration(v)}</text>`,
    )
  }
  if (points.length > 0) {
    const dates = [...new Set([t0, t1])]
    for (const t of dates)
      parts.push(
        `<text class="tick" x="${f(x(t))}" y="${height - 12}" text-anchor="middle">${new Date(t).toISOString().slice(0, 10)}</text>`,
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

function f(n: number): string {
  return n.toFixed(1)
}
