/** Counts over the last `windowMs`, as seen at one instant. */
export interface WindowTotals {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

/**
 * Call, failure and slow-call counts over a sliding window of time buckets (Hystrix / resilience4j
 * style). A bucket is reused for a later epoch by resetting it when it is written, so recording is
 * O(1) with no timers; summing is O(buckets) and only happens when a failure or a slow call could
 * trip the breaker. The window covers between `windowMs − bucketMs` and `windowMs` of history.
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly epochs: Float64Array;
  private readonly calls: Uint32Array;
  private readonly failures: Uint32Array;
  private readonly slow: Uint32Array;

  constructor(readonly windowMs: number, readonly buckets: number) {
    this.bucketMs = windowMs / buckets;
    this.epochs = new Float64Array(buckets).fill(-Infinity);
    this.calls = new Uint32Array(buckets);
    this.failures = new Uint32Array(buckets);
    this.slow = new Uint32Array(buckets);
  }

  /**
   * Counts one call at `now`, which may lag the clock a little (a success is recorded at the time
   * its call started, saving a clock read). A time so old that its bucket was already reused for a
   * later epoch lies outside the window anyway, so it is dropped.
   */
  record(now: number, failed: boolean, slow: boolean): void {
    const epoch = Math.floor(now / this.bucketMs);
    const i = epoch % this.buckets;
    const current = this.epochs[i]!;
    if (current > epoch) return;
    if (current !== epoch) {
      this.epochs[i] = epoch;
      this.calls[i] = 0;
      this.failures[i] = 0;
      this.slow[i] = 0;
    }
    this.calls[i]!++;
    if (failed) this.failures[i]!++;
    if (slow) this.slow[i]!++;
  }

  totals(now: number): WindowTotals {
    const epoch = Math.floor(now / this.bucketMs);
    const oldest = epoch - this.buckets;
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (let i = 0; i < this.buckets; i++) {
      const e = this.epochs[i]!;
      if (e > oldest && e <= epoch) {
        calls += this.calls[i]!;
        failures += this.failures[i]!;
        slow += this.slow[i]!;
      }
    }
    return { calls, failures, slow };
  }

  /** Forgets everything: a circuit that closes again starts from a clean slate. */
  reset(): void {
    this.epochs.fill(-Infinity);
  }
}
