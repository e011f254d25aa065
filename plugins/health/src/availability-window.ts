/**
 * Successes and calls of one endpoint over a sliding time window, kept in a fixed ring of time
 * buckets: memory is constant however many calls there are, and the window slides one bucket at a
 * time. A bucket is recycled (zeroed) when a later period claims its slot, so stale counts vanish
 * without any timer.
 */
export class AvailabilityWindow {
  private readonly bucketMs: number;
  private readonly periods: Float64Array;
  private readonly successes: Uint32Array;
  private readonly calls: Uint32Array;

  constructor(windowMs: number, private readonly buckets: number) {
    this.bucketMs = windowMs / buckets;
    this.periods = new Float64Array(buckets).fill(-1);
    this.successes = new Uint32Array(buckets);
    this.calls = new Uint32Array(buckets);
  }

  record(now: number, ok: boolean): void {
    const period = Math.floor(now / this.bucketMs);
    const slot = period % this.buckets;
    if (this.periods[slot] !== period) {
      this.periods[slot] = period;
      this.successes[slot] = 0;
      this.calls[slot] = 0;
    }
    this.calls[slot]!++;
    if (ok) this.successes[slot]!++;
  }

  /** Totals over the buckets that are still inside the window at `now`. */
  totals(now: number): { calls: number; successes: number } {
    const current = Math.floor(now / this.bucketMs);
    let calls = 0;
    let successes = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const period = this.periods[slot]!;
      if (period > current - this.buckets && period <= current) {
        calls += this.calls[slot]!;
        successes += this.successes[slot]!;
      }
    }
    return { calls, successes };
  }

  clear(): void {
    this.periods.fill(-1);
  }
}
