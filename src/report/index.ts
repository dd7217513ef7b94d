/**
 * Documents for people: the evidence report as markdown or one self-contained HTML file
 * with SVG charts, and the recovery runbook generated from the plan. Pure rendering from
 * what ops/ gathered: nothing here reads a repository or a source.
 */
export { type ChartPoint, type ChartSpec, renderChart } from './chart.js'
export { renderReportHtml } from './html.js'
export { renderReportMarkdown } from './markdown.js'
export { type RunbookOptions, renderRunbook } from './runbook.js'
