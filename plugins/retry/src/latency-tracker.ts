import { percentileOfSorted } from '@trellis/core/toolkit';

const SIZE = 512;
/** Re-sort after this many new samples: a percentile needs no per-call precision. */
const REFRESH_EVERY = 32;

/**
 * The recent latency of one method's answers, for a backup delay of "the pN latency". Keeps the last
 * 512 samples in a ring and re-computes the percentile every 32 samples, so a call costs one store
 * and an amortised sort of 512 numbers per 32 calls.
 */
export class LatencyTracker {
  private readonly ring = new Float64Array(SIZE);
  private readonly scratch = new Float64Array(SIZE);
  private count = 0;
  private next = 0;
  private sinceRefresh = 0;
  private cached: number | undefined;

  constructor(private readonly percentile: number, private readonly minSamples: number) {}

  record(latencyMs: number): void {
    this.ring[this.next] = latencyMs;
    this.next = (this.next + 1) % SIZE;
    if (this.count < SIZE) this.count++;
    this.sinceRefresh++;
  }

  /** The percentile of the recent samples, or undefined until `minSamples` answers were seen. */
  value(): number | undefined {
    if (this.count < this.minSamples) return undefined;
    if (this.cached === undefined || this.sinceRefresh >= REFRESH_EVERY) {
      const n = this.count;
      const sorted = this.scratch.subarray(0, n);
      sorted.set(this.ring.subarray(0, n));
      sorted.sort();
      this.cached = percentileOfSorted(sorted, this.percentile);
      this.sinceRefresh = 0;
    }
    return this.cached;
  }
}
