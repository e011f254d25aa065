/** Messages between the benchmark and its provider processes (provider-main.ts). */

/** `precise`: PreciseTimer (sub-ms); `timer`: setTimeout, as the testkit's provider delays. */
export type DelayMode = 'precise' | 'timer';

export interface ProviderArgs {
  readonly name: string;
  readonly delayMs: number;
  readonly delay: DelayMode;
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
