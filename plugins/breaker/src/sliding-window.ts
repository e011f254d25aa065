import { SlidingWindowCounter } from '@trellis/core/toolkit';

/** Counts over the last `windowMs`, as seen at one instant. */
export interface WindowTotals {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;

/**
 * Call, failure and slow-call counts over a sliding window of time buckets: the circuit's view of
 * `SlidingWindowCounter` from `@trellis/core/toolkit` (one implementation for breaker and health).
 * Summing is O(buckets) and only happens when a failure or a slow call could trip the breaker.
 */
export class SlidingWindow {
  private readonly counter: SlidingWindowCounter;
  private readonly scratch = [0, 0, 0];

  constructor(readonly windowMs: number, readonly buckets: number) {
    this.counter = new SlidingWindowCounter({ windowMs, buckets, counters: 3 });
  }

  /**
   * Counts one call at `now`, which may lag the clock a little (a success is recorded at the time
   * its call started, saving a clock read); a time already outside the window is dropped.
   */
  record(now: number, failed: boolean, slow: boolean): void {
    this.counter.record(now, 1, failed ? 1 : 0, slow ? 1 : 0);
  }

  totals(now: number): WindowTotals {
    const sums = this.counter.sums(now, this.scratch);
    return { calls: sums[CALLS]!, failures: sums[FAILURES]!, slow: sums[SLOW]! };
  }

  /** Forgets everything: a circuit that closes again starts from a clean slate. */
  reset(): void {
    this.counter.reset();
  }
}
