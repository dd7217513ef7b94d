/**
 * Everything a command prints goes through here: one JSON document on stdout with
 * --json, human text otherwise; logs and progress always on stderr.
 */
export interface Output {
  readonly json: boolean
  /** The command's result: `doc` with --json, else the text `human` renders. */
  result<T>(doc: T, human: (doc: T) => string): void
  /** A line of progress or information for a person; silent with --json. */
  info(line: string): void
  warn(line: string): void
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(doc, human) {
      process.stdout.write(json ? `${JSON.stringify(doc, null, 2)}\n` : `${human(doc)}\n`)
    },
    info(line) {
      if (!json) process.stderr.write(`${line}\n`)
    },
    warn(line) {
      process.stderr.write(`warning: ${line}\n`)
    },
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}

/** A plain text table: columns padded to their widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
