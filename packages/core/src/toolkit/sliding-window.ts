import { systemClock, type Clock } from '../clock.js';
import { invalidOption } from '../errors.js';

export interface SlidingWindowOptions {
  /** How far back the window reaches, in ms of the clock. */
  readonly windowMs: number;
  /** Buckets the window is cut into (default 10): it slides one bucket (`windowMs / buckets`) at a time. */
  readonly buckets?: number;
  /** Counters kept side by side in each bucket (default 1): e.g. calls, failures, slow calls. */
  readonly counters?: number;
  /** Where the time comes from when a method is not given one (default: `performance.now()`). */
  readonly clock?: Clock;
}

/**
 * Counts over the last `windowMs`, in a fixed ring of time buckets (the Hystrix / resilience4j
 * shape): memory is constant however many events there are, recording is O(1) with no timer, and
 * reading is O(buckets). A bucket is zeroed when a later period claims its slot, so old counts vanish
 * without a sweep. At any instant the window covers between `windowMs − bucketMs` and `windowMs` of
 * history.
 *
 * Stale writes: callers often record a time read earlier (a call's start, saving a clock read), so
 * writes arrive slightly out of order. A write is counted in its own period's bucket as long as that
 * period is still inside the window the newest write opened; an older one is dropped (`record`
 * returns false). It never resets a bucket that holds a later period — which would erase counts that
 * are still inside the window (the health plugin's former copy did that; the breaker's dropped them).
 */
export class SlidingWindowCounter {
  readonly windowMs: number;
  readonly buckets: number;
  readonly counters: number;
  private readonly bucketMs: number;
  private readonly clock: Clock;
  /** The period (time / bucketMs, floored) each slot currently holds; -Infinity when empty. */
  private readonly periods: Float64Array;
  /** counts[slot * counters + counter] */
  private readonly counts: Float64Array;
  /** The latest period written: writes at or before `newest − buckets` are outside the window. */
  private newest = -Infinity;
  /** Index of the first counter of the newest period's bucket (-1 while nothing was written). */
  private newestBase = -1;

  constructor(options: SlidingWindowOptions) {
    const { windowMs, buckets = 10, counters = 1, clock = systemClock } = options;
    if (!(typeof windowMs === 'number' && windowMs > 0 && Number.isFinite(windowMs))) {
      throw invalidOption('windowMs', windowMs, 'a positive finite number of ms');
    }
    if (!(Number.isInteger(buckets) && buckets >= 1)) throw invalidOption('buckets', buckets, 'an integer ≥ 1');
    if (!(Number.isInteger(counters) && counters >= 1)) throw invalidOption('counters', counters, 'an integer ≥ 1');
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.counters = counters;
    this.bucketMs = windowMs / buckets;
    this.clock = clock;
    this.periods = new Float64Array(buckets).fill(-Infinity);
    this.counts = new Float64Array(buckets * counters);
  }

  /**
   * Adds `c0` to counter 0, `c1` to counter 1, … in the bucket of time `at` (default: the clock's
   * now). One call, several counters, no allocation: `record(now, 1, failed ? 1 : 0)`. Returns false
   * when `at` is too old to be inside the window any more (nothing is counted).
   */
  record(at: number, c0: number, c1 = 0, c2 = 0, c3 = 0): boolean {
    const base = this.slotFor(at);
    if (base < 0) return false;
    const counts = this.counts;
    counts[base]! += c0;
    if (this.counters > 1) counts[base + 1]! += c1;
    if (this.counters > 2) counts[base + 2]! += c2;
    if (this.counters > 3) counts[base + 3]! += c3;
    return true;
  }

  /** Adds `amount` (default 1) to one counter at time `at` (default: now); false when dropped as stale. */
  add(counter = 0, amount = 1, at = this.clock.now()): boolean {
    this.checkCounter(counter);
    const base = this.slotFor(at);
    if (base < 0) return false;
    this.counts[base + counter]! += amount;
    return true;
  }

  /** One counter's total over the window ending at `now` (default: the clock's now). */
  sum(counter = 0, now = this.clock.now()): number {
    this.checkCounter(counter);
    const current = Math.floor(now / this.bucketMs);
    let total = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const period = this.periods[slot]!;
      if (period > current - this.buckets && period <= current) total += this.counts[slot * this.counters + counter]!;
    }
    return total;
  }

  /** Every counter's total over the window ending at `now`, written into `out` (reused, no allocation). */
  sums(now = this.clock.now(), out: number[] = new Array<number>(this.counters)): number[] {
    out.fill(0, 0, this.counters);
    const current = Math.floor(now / this.bucketMs);
    for (let slot = 0; slot < this.buckets; slot++) {
      const period = this.periods[slot]!;
      if (period > current - this.buckets && period <= current) {
        for (let c = 0; c < this.counters; c++) out[c]! += this.counts[slot * this.counters + c]!;
      }
    }
    return out;
  }

  /** Forgets everything (a circuit that closes again starts from a clean slate). */
  reset(): void {
    this.periods.fill(-Infinity);
    this.newest = -Infinity;
    this.newestBase = -1;
  }

  /** Index of the first counter of the bucket for time `at`, rolled over if needed; −1 when stale. */
  private slotFor(at: number): number {
    const period = Math.floor(at / this.bucketMs);
    // Nearly every write lands in the newest period, whose bucket holds it already (no later period
    // can have claimed the slot: it would be the newest): no modulo, no check of the slot.
    if (period === this.newest) return this.newestBase;
    // Not a finite time (NaN from a broken clock) or outside the window the newest write opened.
    if (!Number.isFinite(period) || period <= this.newest - this.buckets) return -1;
    const slot = ((period % this.buckets) + this.buckets) % this.buckets;
    const base = slot * this.counters;
    if (period > this.newest) {
      this.newest = period;
      this.newestBase = base;
    }
    if (this.periods[slot] !== period) {
      // Only an older period can be here: a later one would make `period` stale (checked above).
      this.periods[slot] = period;
      this.counts.fill(0, base, base + this.counters);
    }
    return base;
  }

  private checkCounter(counter: number): void {
    if (!(Number.isInteger(counter) && counter >= 0 && counter < this.counters)) {
      throw new RangeError(`counter ${counter} is outside 0..${this.counters - 1}`);
    }
  }
}
