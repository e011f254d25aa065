import { SlidingWindowCounter } from '@trellis/core/toolkit';

const CALLS = 0;
const SUCCESSES = 1;

/**
 * Successes and calls of one endpoint over a sliding time window: the health monitor's view of
 * `SlidingWindowCounter` from `@trellis/core/toolkit` (a fixed ring of time buckets, constant memory,
 * no timer; the same implementation the breaker uses). A time already outside the window is dropped,
 * never allowed to reset a bucket that holds newer counts.
 */
export class AvailabilityWindow {
  private readonly counter: SlidingWindowCounter;
  private readonly scratch = [0, 0];

  constructor(windowMs: number, buckets: number) {
    this.counter = new SlidingWindowCounter({ windowMs, buckets, counters: 2 });
  }

  record(now: number, ok: boolean): void {
    this.counter.record(now, 1, ok ? 1 : 0);
  }

  /** Totals over the buckets that are still inside the window at `now`. */
  totals(now: number): { calls: number; successes: number } {
    const sums = this.counter.sums(now, this.scratch);
    return { calls: sums[CALLS]!, successes: sums[SUCCESSES]! };
  }

  clear(): void {
    this.counter.reset();
  }
}
