/**
 * Small statistics helpers for `relik bench`: percentiles and latency summaries (pure functions).
 */

/**
 * The p-th percentile (0..100) of `values` with linear interpolation between closest ranks
 * (the "R-7" / NumPy default definition). Throws on an empty list or p outside [0, 100].
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  if (!Number.isFinite(p) || p < 0 || p > 100) throw new RangeError(`percentile p must be in [0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (rank - low);
}

/** Summary of a list of latencies in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/** Summarises latencies (ms); `null` when there are none. */
export function summarizeLatencies(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sum = values.reduce((s, v) => s + v, 0);
  return {
    count: values.length,
    meanMs: round(sum / values.length),
    p50Ms: round(percentile(values, 50)),
    p95Ms: round(percentile(values, 95)),
    p99Ms: round(percentile(values, 99)),
    minMs: round(Math.min(...values)),
    maxMs: round(Math.max(...values)),
  };
}

/** Rounds to `digits` decimals (default 3) for stable, readable JSON. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `count / (ms / 1000)`, or 0 when no time passed. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? round((count * 1000) / ms, 2) : 0;
}
