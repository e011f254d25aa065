import type { RateLimit } from './limiter-options.js';
import { defaultBurst } from './limiter-options.js';
import { TokenBucket } from './token-bucket.js';

/**
 * One token bucket per caller: named callers get their own rate, everyone else `perCaller`'s. Calls
 * without a caller id share the bucket of the empty name. The map is bounded: past `maxCallers`,
 * buckets are dropped oldest first, full ones before others, since a fresh bucket starts full anyway.
 */
export class CallerBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly perCaller: RateLimit | undefined,
    private readonly named: Readonly<Record<string, RateLimit>> | undefined,
    private readonly maxCallers: number,
  ) {}

  /** The caller's bucket, or undefined when no limit applies to this caller. */
  bucketFor(caller: string, now: number): TokenBucket | undefined {
    const existing = this.buckets.get(caller);
    if (existing !== undefined) return existing;
    const rate = (this.named !== undefined && Object.hasOwn(this.named, caller) ? this.named[caller] : undefined) ?? this.perCaller;
    if (rate === undefined) return undefined;
    if (this.buckets.size >= this.maxCallers) this.evict(now);
    const bucket = new TokenBucket(rate.qps, rate.burst ?? defaultBurst(rate.qps), now);
    this.buckets.set(caller, bucket);
    return bucket;
  }

  peek(caller: string): TokenBucket | undefined {
    return this.buckets.get(caller);
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [caller, bucket] of this.buckets) {
      if (bucket.isFull(now)) {
        this.buckets.delete(caller);
        return;
      }
    }
    // Every bucket is in use: dropping the oldest gives that caller one burst too many, which is
    // better than growing without bound under a flood of distinct caller ids.
    const oldest = this.buckets.keys().next().value;
    if (oldest !== undefined) this.buckets.delete(oldest);
  }
}
