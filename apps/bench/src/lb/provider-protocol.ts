/** Messages between the benchmark and its provider processes (provider-main.ts). */

/** `precise`: PreciseTimer (sub-ms); `timer`: setTimeout, as the testkit's provider delays. */
export type DelayMode = 'precise' | 'timer';

export interface ProviderArgs {
  readonly name: string;
  readonly delayMs: number;
  readonly delay: DelayMode;
  /**
   * Each call's service time is drawn uniformly from delayMs × [1 − jitter, 1 + jitter] (same mean).
   * 0: exactly delayMs, every call.
   */
  readonly jitter: number;
}

/** Service time as the handler saw it: from its start until the injected delay ended. */
export interface ServiceTimeStats {
  readonly calls: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export type ToProvider = { type: 'delay'; ms: number } | { type: 'stats' };

export type FromProvider =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'delay-set' }
  | { type: 'stats'; stats: ServiceTimeStats };
