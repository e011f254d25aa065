import { Code } from '@trellis/core';
import { percentileOfSorted } from '@trellis/core/toolkit';

/**
 * Every call of a benchmark run, in typed arrays (a full run makes a few million calls): when it
 * started, how long it took, which provider it went to, and its status code (0 = OK). Times are ms
 * on the benchmark's timeline (0 = start of the first run).
 */
export class CallLog {
  size = 0;
  start = new Float64Array(1 << 16);
  latency = new Float32Array(1 << 16);
  /** Provider index, -1 when unknown (a call that failed before a provider was picked). */
  provider = new Int8Array(1 << 16);
  code = new Uint8Array(1 << 16);

  add(start: number, latency: number, provider: number, code: number): void {
    if (this.size === this.start.length) this.grow();
    const i = this.size++;
    this.start[i] = start;
    this.latency[i] = latency;
    this.provider[i] = provider;
    this.code[i] = code;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const start = new Float64Array(n);
    start.set(this.start);
    const latency = new Float32Array(n);
    latency.set(this.latency);
    const provider = new Int8Array(n);
    provider.set(this.provider);
    const code = new Uint8Array(n);
    code.set(this.code);
    Object.assign(this, { start, latency, provider, code });
  }
}

export interface WindowStats {
  /** Calls that completed in the window, failed ones included. */
  readonly calls: number;
  readonly failed: number;
  /** The failed calls by status code name (e.g. { DEADLINE_EXCEEDED: 2 }): says why they failed. */
  readonly failedCodes: Record<string, number>;
  /** Successful calls completed per second. */
  readonly qps: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Fraction of the successful calls each provider served. */
  readonly share: number[];
  /** Successful calls and their mean latency (client side, µs) per provider. */
  readonly perProvider: { calls: number; meanUs: number }[];
}

/** QPS and latency over the calls that *completed* in [from, to): what a throughput test reports. */
export function windowStats(log: CallLog, providers: number, from: number, to: number): WindowStats {
  const latencies: number[] = [];
  const calls = new Array<number>(providers).fill(0);
  const sums = new Array<number>(providers).fill(0);
  let failed = 0;
  const failedCodes: Record<string, number> = {};
  let total = 0;
  for (let i = 0; i < log.size; i++) {
    const end = log.start[i]! + log.latency[i]!;
    if (end < from || end >= to) continue;
    total++;
    if (log.code[i] !== 0) {
      failed++;
      const name = Code[log.code[i]!] ?? String(log.code[i]);
      failedCodes[name] = (failedCodes[name] ?? 0) + 1;
      continue;
    }
    const l = log.latency[i]!;
    latencies.push(l);
    const p = log.provider[i]!;
    if (p >= 0) {
      calls[p]!++;
      sums[p]! += l;
    }
  }
  const sorted = Float64Array.from(latencies).sort();
  const n = sorted.length;
  const mean = n === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / n;
  const at = (p: number) => (n === 0 ? 0 : percentileOfSorted(sorted, p));
  return {
    calls: total,
    failed,
    failedCodes,
    qps: (n * 1000) / (to - from),
    meanUs: mean * 1000,
    p50Us: at(50) * 1000,
    p99Us: at(99) * 1000,
    share: calls.map((c) => (n === 0 ? 0 : c / n)),
    perProvider: calls.map((c, p) => ({ calls: c, meanUs: c === 0 ? 0 : (sums[p]! / c) * 1000 })),
  };
}

/**
 * Calls *started* per provider in bins of `binMs` over [from, to), failed ones included: the
 * balancer's decisions, which is what a share-over-time chart shows (a call stuck on a frozen
 * provider counts where it was sent, not 500 ms later when it timed out).
 */
export interface Bins {
  readonly from: number;
  readonly binMs: number;
  /** started[bin][provider] */
  readonly started: number[][];
  /** completed successfully, by completion time: completed[bin] */
  readonly completed: number[];
  /** sum of latencies of the successful calls completed in the bin (ms) */
  readonly latencySum: number[];
  /** failed calls by start time: failed[bin][provider], provider -1 counted at index `providers` */
  readonly failed: number[][];
}

export function bin(log: CallLog, providers: number, from: number, to: number, binMs: number): Bins {
  const count = Math.max(1, Math.ceil((to - from) / binMs));
  const started = Array.from({ length: count }, () => new Array<number>(providers).fill(0));
  const failed = Array.from({ length: count }, () => new Array<number>(providers + 1).fill(0));
  const completed = new Array<number>(count).fill(0);
  const latencySum = new Array<number>(count).fill(0);
  for (let i = 0; i < log.size; i++) {
    const s = log.start[i]!;
    const p = log.provider[i]!;
    const ok = log.code[i] === 0;
    if (s >= from && s < to) {
      const b = Math.floor((s - from) / binMs);
      if (p >= 0) started[b]![p]!++;
      if (!ok) failed[b]![p >= 0 ? p : providers]!++;
    }
    const e = s + log.latency[i]!;
    if (ok && e >= from && e < to) {
      const b = Math.floor((e - from) / binMs);
      completed[b]!++;
      latencySum[b]! += log.latency[i]!;
    }
  }
  return { from, binMs, started, completed, latencySum, failed };
}

/**
 * Shares of the calls completed since the previous look, read incrementally (the log only grows):
 * cheap enough to ask every 250 ms while a phase runs, to end it once the shares have settled.
 */
export class RecentShares {
  private seen = 0;

  constructor(
    private readonly log: CallLog,
    private readonly providers: number,
  ) {
    this.seen = log.size;
  }

  /** Fraction of the calls completed since the last call per provider (failed ones included). */
  next(): { calls: number; share: number[] } {
    const counts = new Array<number>(this.providers).fill(0);
    let calls = 0;
    for (let i = this.seen; i < this.log.size; i++) {
      const p = this.log.provider[i]!;
      if (p < 0) continue;
      counts[p]!++;
      calls++;
    }
    this.seen = this.log.size;
    return { calls, share: counts.map((c) => (calls === 0 ? 0 : c / calls)) };
  }
}
