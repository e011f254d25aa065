import { Code, RpcError } from '@trellis/core';
import { AutoConcurrencyLimiter, type AutoLimiterSnapshot } from './auto-concurrency-limiter.js';
import { CallerBuckets } from './caller-buckets.js';
import { ConstantConcurrencyLimiter, type ConcurrencyLimiter } from './concurrency-limiter.js';
import { autoSettings, defaultBurst, type LimitRule } from './limiter-options.js';
import { TokenBucket } from './token-bucket.js';

export const RATE_OK = 0;
export const RATE_SHARED = 1;
export const RATE_CALLER = 2;

/** One gate as `limiterPlugin.snapshot()` reports it. */
export interface GateSnapshot {
  /** `service` or `service/Method`. */
  readonly scope: string;
  readonly qps: number | undefined;
  readonly burst: number | undefined;
  /** Tokens in the shared bucket now. */
  readonly tokens: number | undefined;
  readonly callers: number;
  readonly concurrency: 'constant' | 'auto' | undefined;
  /** The concurrency limit in force (the adaptive limiter's current one). */
  readonly maxConcurrency: number | undefined;
  readonly inflight: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly auto: AutoLimiterSnapshot | undefined;
}

export interface GateContext {
  readonly maxCallers: number;
  readonly random: () => number;
}

/**
 * The limits of one scope (a service, or one of its methods) with their state: a shared token
 * bucket, per-caller buckets, and a concurrency limiter. Built from a rule; `ruleKey` lets a live
 * document that leaves this scope's rule unchanged keep the state (tokens, the learned limit).
 */
export class LimitGate {
  readonly bucket: TokenBucket | undefined;
  readonly callers: CallerBuckets | undefined;
  readonly concurrency: ConcurrencyLimiter | undefined;
  accepted = 0;
  rejected = 0;

  constructor(readonly scope: string, readonly rule: LimitRule, readonly ruleKey: string, now: number, context: GateContext) {
    if (rule.qps !== undefined) this.bucket = new TokenBucket(rule.qps, rule.burst ?? defaultBurst(rule.qps), now);
    if (rule.perCaller !== undefined || rule.callers !== undefined) {
      this.callers = new CallerBuckets(rule.perCaller, rule.callers, context.maxCallers);
    }
    const setting = rule.maxConcurrency;
    if (setting !== undefined) {
      const auto = autoSettings(setting);
      this.concurrency = auto !== undefined ? new AutoConcurrencyLimiter(auto, now, context.random) : new ConstantConcurrencyLimiter(setting as number);
    }
  }

  /** Takes a token from the shared bucket and the caller's; gives the first back if the second is empty. */
  takeRate(now: number, caller: string): number {
    const bucket = this.bucket;
    if (bucket !== undefined && !bucket.tryTake(now)) return RATE_SHARED;
    if (this.callers !== undefined) {
      const own = this.callers.bucketFor(caller, now);
      if (own !== undefined && !own.tryTake(now)) {
        bucket?.refund();
        return RATE_CALLER;
      }
    }
    return RATE_OK;
  }

  refundRate(caller: string): void {
    this.bucket?.refund();
    this.callers?.peek(caller)?.refund();
  }

  rateError(why: number, caller: string): RpcError {
    let message: string;
    if (why === RATE_SHARED) {
      message = `rate limit of ${this.bucket!.qps} calls/s (burst ${this.bucket!.burst}) reached for ${this.scope}; the call did not run`;
    } else {
      const own = this.callers!.peek(caller)!;
      message = `caller ${caller === '' ? '(anonymous)' : JSON.stringify(caller)} reached its rate limit of ${own.qps} calls/s on ${this.scope}; the call did not run`;
    }
    return new RpcError(Code.RESOURCE_EXHAUSTED, message, { mayHaveRun: false });
  }

  concurrencyError(): RpcError {
    const limiter = this.concurrency!;
    const kind = limiter.algorithm === 'auto' ? 'adaptive concurrency limit' : 'concurrency limit';
    return new RpcError(
      Code.RESOURCE_EXHAUSTED,
      `${kind} of ${limiter.limit} in-flight calls reached for ${this.scope}; the call did not run`,
      { mayHaveRun: false },
    );
  }

  snapshot(now: number): GateSnapshot {
    const limiter = this.concurrency;
    return {
      scope: this.scope,
      qps: this.bucket?.qps,
      burst: this.bucket?.burst,
      tokens: this.bucket?.available(now),
      callers: this.callers?.size ?? 0,
      concurrency: limiter?.algorithm,
      maxConcurrency: limiter?.limit,
      inflight: limiter?.inflight ?? 0,
      accepted: this.accepted,
      rejected: this.rejected,
      auto: limiter instanceof AutoConcurrencyLimiter ? limiter.snapshot() : undefined,
    };
  }
}
