/**
 * Percentiles of latency samples, the one definition every report, bench and plugin in Trellis uses.
 *
 * Nearest rank: the p-th percentile of n sorted samples is the sample at rank ⌈p/100 · n⌉ (1-based;
 * rank 1 for p = 0), so p99 of 100 samples is the 99th smallest and p50 of [1, 2] is 1. Chosen over
 * linear interpolation because it always returns a latency that was observed (an interpolated p99
 * between a 2 ms and a 900 ms sample is a latency no call had), and it is the formula retry's
 * hedging tracker and the limiter bench already used. The other form found in the repository, `sorted[⌊p/100 · n⌋]`,
 * is one rank high: it made p99 of 100 samples the maximum.
 */

/**
 * The p-th percentile (0–100) of samples already sorted ascending; NaN when there are none.
 * Typed arrays sort numerically by default: `Float64Array.from(values).sort()`.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  const rank = Math.ceil((p / 100) * n);
  return sorted[rank <= 1 ? 0 : Math.min(n, rank) - 1]!;
}

/** The p-th percentile (0–100) of unsorted samples (the input is left as it is); NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileOfSorted(Float64Array.from(values).sort(), p);
}

/** Several percentiles of one set of unsorted samples, sorted once: `percentiles(xs, [50, 99])`. */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => percentileOfSorted(sorted, p));
}

/**
 * The median in the usual statistical sense (the mean of the two middle values when n is even), for
 * summarising a few repeated rounds of a benchmark rather than a latency distribution; NaN when empty.
 */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
