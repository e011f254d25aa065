import type { ConcurrencyLimiter } from './concurrency-limiter.js';

/** Tuning of the adaptive limiter; the defaults are brpc's flags (`auto_cl_*`). */
export interface AutoLimiterSettings {
  /** Latency fluctuation the formula tolerates, the doc's α. Default 0.3. */
  readonly alpha: number;
  /** The limit before the first sample window ends (`auto_cl_initial_max_concurrency`). Default 40. */
  readonly initialMaxConcurrency: number;
  /** The limit never goes below this (brpc: the worker count). Default 8. */
  readonly minConcurrency: number;
  /** A sample window ends after this long… (`auto_cl_sample_window_size_ms`). Default 1000. */
  readonly sampleWindowMs: number;
  /** …if it holds this many samples, else it is discarded (`auto_cl_min_sample_count`). Default 100. */
  readonly minSamples: number;
  /** A window ends early once it holds this many (`auto_cl_max_sample_count`). Default 200. */
  readonly maxSamples: number;
  /** At most one latency sample per this interval (`auto_cl_sampling_interval_ms`). Default 0.1. */
  readonly samplingIntervalMs: number;
  /** No-load latency is re-measured every [½, 1) × this (`auto_cl_noload_latency_remeasure_interval_ms`). Default 50 000. */
  readonly remeasureIntervalMs: number;
  /** While re-measuring, the limit drops to min(peak_qps, qps) × min_latency × this (`auto_cl_reduce_ratio_while_remeasure`). Default 0.9. */
  readonly reduceRatio: number;
  /** EMA factor for min_latency; peak_qps uses a tenth of it (`auto_cl_alpha_factor_for_ema`). Default 0.1. */
  readonly emaFactor: number;
  /** Failed calls' latency counts this many times over (`auto_cl_fail_punish_ratio`). Default 1. */
  readonly failPunishRatio: number;
}

export const DEFAULT_AUTO_LIMITER_SETTINGS: AutoLimiterSettings = Object.freeze({
  alpha: 0.3,
  initialMaxConcurrency: 40,
  minConcurrency: 8,
  sampleWindowMs: 1000,
  minSamples: 100,
  maxSamples: 200,
  samplingIntervalMs: 0.1,
  remeasureIntervalMs: 50_000,
  reduceRatio: 0.9,
  emaFactor: 0.1,
  failPunishRatio: 1,
});

export interface AutoLimiterSnapshot {
  readonly limit: number;
  readonly inflight: number;
  /** The no-load latency estimate, ms (−1 before the first window). */
  readonly minLatencyMs: number;
  /** The peak-qps estimate, calls/s (−1 before the first window). */
  readonly peakQps: number;
  /** True while the limit is lowered to re-measure the no-load latency. */
  readonly remeasuring: boolean;
}

/**
 * brpc's auto concurrency limiter (docs/cn/auto_concurrency_limiter.md): after each sample window,
 *
 *     max_concurrency = peak_qps × ((2 + α) × min_latency − avg_latency)
 *
 * By Little's law, at no load avg ≈ min and the limit sits (1 + α) above the concurrency in use, so
 * it rises with traffic; once the server saturates, queueing pushes avg above min and the limit
 * shrinks, so latency stays near (1 + α) × min instead of growing with the queue. min_latency is an
 * EMA that only moves down, so it is re-measured now and then: the limit drops long enough to drain
 * queued calls (2 × avg latency), and the next window's average becomes the new min_latency.
 *
 * The window bookkeeping follows brpc's current AutoConcurrencyLimiter::AddSample; the formula is
 * the documented one (the current code replaced it with an "explore ratio" variant). One deviation:
 * brpc lowers the limit to peak_qps × min_latency × 0.9 while re-measuring. When the server got
 * slower under sustained overload, peak_qps (which decays slowly on purpose) is stale, that limit
 * still saturates the server, and each re-measurement finds a *higher* "no-load" latency — in a
 * simulation the estimate diverged. Here the limit drops to min(peak_qps, current qps) ×
 * min_latency × 0.9, and peak_qps is re-learned with min_latency (see test/limiters.test.ts).
 */
export class AutoConcurrencyLimiter implements ConcurrencyLimiter {
  readonly algorithm = 'auto';
  inflight = 0;
  limit: number;
  private minLatency = -1;
  private peakQps = -1;
  private windowStart = -1;
  private succCount = 0;
  private failCount = 0;
  private succLatency = 0;
  private failLatency = 0;
  /** Successful calls since the window started, sampled or not: the window's qps. */
  private succTotal = 0;
  private lastSample = -Infinity;
  private remeasureAt: number;
  /** While re-measuring: samples before this moment are still queued ones and are skipped. */
  private drainUntil = 0;

  constructor(
    readonly settings: AutoLimiterSettings,
    now: number,
    private readonly random: () => number = Math.random,
  ) {
    this.limit = settings.initialMaxConcurrency;
    this.remeasureAt = this.nextRemeasure(now);
  }

  tryAcquire(): boolean {
    if (this.inflight >= this.limit) return false;
    this.inflight++;
    return true;
  }

  cancel(): void {
    this.inflight--;
  }

  release(now: number, latencyMs: number, failed: boolean): void {
    this.inflight--;
    if (!failed) this.succTotal++;
    if (now - this.lastSample < this.settings.samplingIntervalMs) return;
    this.lastSample = now;
    this.addSample(now, latencyMs, failed);
  }

  snapshot(): AutoLimiterSnapshot {
    return {
      limit: this.limit,
      inflight: this.inflight,
      minLatencyMs: this.minLatency,
      peakQps: this.peakQps,
      remeasuring: this.drainUntil !== 0,
    };
  }

  private addSample(now: number, latencyMs: number, failed: boolean): void {
    const s = this.settings;
    if (this.drainUntil !== 0) {
      if (now < this.drainUntil) return;
      // The queue has drained: what the next window measures is the no-load latency, and the qps
      // the server reaches from there is its peak as it is now.
      this.minLatency = -1;
      this.peakQps = -1;
      this.drainUntil = 0;
      this.remeasureAt = this.nextRemeasure(now);
      this.resetWindow(now);
    }
    if (this.windowStart < 0) this.windowStart = now;
    if (failed) {
      this.failCount++;
      this.failLatency += latencyMs;
    } else {
      this.succCount++;
      this.succLatency += latencyMs;
    }
    const samples = this.succCount + this.failCount;
    const elapsed = now - this.windowStart;
    if (samples < s.minSamples) {
      if (elapsed >= s.sampleWindowMs) this.resetWindow(now);
      return;
    }
    if (elapsed < s.sampleWindowMs && samples < s.maxSamples) return;
    if (this.succCount > 0) this.update(now, elapsed);
    else this.adjust(this.limit / 2); // every sampled call failed
    this.resetWindow(now);
  }

  private update(now: number, elapsed: number): void {
    const s = this.settings;
    const avgLatency = (this.failLatency * s.failPunishRatio + this.succLatency) / this.succCount;
    const qps = elapsed > 0 ? (this.succTotal * 1000) / elapsed : this.peakQps;
    if (this.minLatency <= 0) this.minLatency = avgLatency;
    else if (avgLatency < this.minLatency) this.minLatency = avgLatency * s.emaFactor + this.minLatency * (1 - s.emaFactor);
    // A lower qps rarely means the server got slower, so peak_qps falls ten times slower than it rises.
    if (qps >= this.peakQps) this.peakQps = qps;
    else this.peakQps = qps * (s.emaFactor / 10) + this.peakQps * (1 - s.emaFactor / 10);
    const perMs = this.peakQps / 1000;
    if (this.remeasureAt <= now) {
      this.drainUntil = now + avgLatency * 2;
      // Below what the server is serving now, so the drained queue stays drained (brpc: peak_qps).
      this.adjust((Math.min(this.peakQps, qps) / 1000) * this.minLatency * s.reduceRatio);
    } else {
      this.adjust(perMs * ((2 + s.alpha) * this.minLatency - avgLatency));
    }
  }

  private adjust(next: number): void {
    this.limit = Math.max(this.settings.minConcurrency, Math.ceil(next));
  }

  private resetWindow(now: number): void {
    this.windowStart = now;
    this.succCount = 0;
    this.failCount = 0;
    this.succLatency = 0;
    this.failLatency = 0;
    this.succTotal = 0;
  }

  private nextRemeasure(now: number): number {
    const interval = this.settings.remeasureIntervalMs;
    return now + interval / 2 + this.random() * (interval / 2);
  }
}
