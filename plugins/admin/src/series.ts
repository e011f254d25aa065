/**
 * Per-method history for the live charts: once a second, the metrics plugin's running totals of each
 * client are read (its `@trellis/metrics` inspector) and the difference to the previous second is
 * kept — calls per second, p50 / p99 latency from the latency histogram's buckets, errors by code —
 * in a ring of `capacity` seconds. Without the metrics plugin there is nothing to sample and the
 * console shows no charts.
 */
export interface MethodTotals {
  readonly calls: Readonly<Record<string, number>>;
  readonly latency: { readonly bounds: readonly number[]; readonly counts: readonly number[]; readonly count: number; readonly sum: number };
}

export interface SeriesPoint {
  /** Wall-clock seconds (Unix) at the end of the second. */
  readonly t: number;
  readonly qps: number;
  /** Latency percentiles of the calls that ended in that second, ms; null when none did. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** Non-OK calls by code label. */
  readonly errors: Readonly<Record<string, number>>;
}

/**
 * The latency at quantile `q` from per-bucket counts (the last bucket above every bound), linearly
 * interpolated inside the bucket as Prometheus' histogram_quantile does; a value in the overflow bucket
 * is reported as the highest bound.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return bounds[bounds.length - 1] ?? null;
}

class MethodHistory {
  readonly points: SeriesPoint[] = [];
  private previous: MethodTotals | undefined;

  constructor(private readonly capacity: number) {}

  add(t: number, totals: MethodTotals): void {
    const before = this.previous;
    this.previous = totals;
    if (before === undefined) return;
    let qps = 0;
    const errors: Record<string, number> = {};
    for (const [code, count] of Object.entries(totals.calls)) {
      const delta = count - (before.calls[code] ?? 0);
      if (delta <= 0) continue;
      qps += delta;
      if (code !== 'OK') errors[code] = delta;
    }
    const counts = totals.latency.counts.map((c, i) => c - (before.latency.counts[i] ?? 0));
    const toMs = (s: number | null): number | null => (s === null ? null : Math.round(s * 1e5) / 100);
    this.points.push({
      t,
      qps,
      p50: toMs(histogramQuantile(0.5, totals.latency.bounds, counts)),
      p99: toMs(histogramQuantile(0.99, totals.latency.bounds, counts)),
      errors,
    });
    if (this.points.length > this.capacity) this.points.shift();
  }
}

/** Seconds over which the observed traffic share of each endpoint is computed. */
export const SHARE_WINDOW_SECONDS = 5;

/** The histories of one client, by method name, and the recent attempt totals per endpoint. */
export class ClientHistory {
  private readonly methods = new Map<string, MethodHistory>();
  private readonly attempts: { t: number; totals: Readonly<Record<string, number>> }[] = [];

  constructor(private readonly capacity: number) {}

  /** Attempt totals per endpoint (the metrics plugin's), kept for SHARE_WINDOW_SECONDS. */
  sampleAttempts(t: number, totals: Readonly<Record<string, number>>): void {
    this.attempts.push({ t, totals });
    while (this.attempts.length > SHARE_WINDOW_SECONDS + 1) this.attempts.shift();
  }

  /** Each endpoint's attempts per second and share of all attempts over the last few seconds. */
  observedTraffic(): Record<string, { perSecond: number; share: number }> {
    const first = this.attempts[0];
    const last = this.attempts[this.attempts.length - 1];
    if (first === undefined || last === undefined || last.t <= first.t) return {};
    const deltas = Object.entries(last.totals).map(([id, n]) => [id, n - (first.totals[id] ?? 0)] as const);
    const sum = deltas.reduce((all, [, n]) => all + n, 0);
    const seconds = last.t - first.t;
    return Object.fromEntries(deltas.map(([id, n]) => [id, { perSecond: n / seconds, share: sum === 0 ? 0 : n / sum }]));
  }

  sample(t: number, totals: Readonly<Record<string, MethodTotals>>): void {
    for (const [method, value] of Object.entries(totals)) {
      let history = this.methods.get(method);
      if (history === undefined) this.methods.set(method, (history = new MethodHistory(this.capacity)));
      history.add(t, value);
    }
  }

  read(): Record<string, SeriesPoint[]> {
    return Object.fromEntries([...this.methods].map(([method, history]) => [method, history.points]));
  }
}
