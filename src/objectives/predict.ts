/** One measured restore: how many bytes, and how long it took. */
export interface RestoreMeasurement {
  time: number
  bytes: number
  ms: number
}

/**
 * A predicted RTO for restoring `bytes` now: the median throughput of the latest (up to five)
 * measured restores, applied to the current size. Undefined without a usable measurement:
 * a guess without one would be worse than "unknown".
 */
export function predictRto(measurements: RestoreMeasurement[], bytes: number): number | undefined {
  const usable = measurements
    .filter((m) => m.bytes > 0 && m.ms > 0)
    .sort((a, b) => a.time - b.time)
    .slice(-5)
  if (usable.length === 0) return undefined
  const rates = usable.map((m) => m.bytes / m.ms).sort((a, b) => a - b)
  const median = rates[Math.floor(rates.length / 2)]!
  return Math.round(bytes / median)
}
