import type { BenchCaller, CallSlot } from './kinds/kind.js';
import { makeRequest } from './payload.js';
import { between, snapshot, type IntervalStats } from './process-stats.js';
import { percentileOfSorted } from '@trellis/core/toolkit';

export interface RoundResult {
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly qps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly wallMs: number;
  /** The client process over the round: CPU, event-loop utilisation, GC. */
  readonly client: IntervalStats;
}

/** Latencies of one round; allocated once per process and reused (a round never needs two). */
const MAX_SAMPLES = 4_000_000;
let latencies: Float64Array | undefined;

/** A finished loop before its latencies are summarised (sorting them is not part of the round). */
export interface LoopResult {
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly wallMs: number;
  readonly client: IntervalStats;
}

/**
 * Closed-loop load, callback-driven: `concurrency` slots, each sending its next call from the previous
 * call's completion, for `durationMs`. Every kind is driven by this same loop. Per call the loop does
 * one `performance.now()` and one store into a preallocated array; the slot's request object and its
 * completion callbacks are built once per round, so the loop adds no garbage of its own and no
 * promise (an `async` worker loop costs each call an await and a promise on the caller's side).
 */
export function runLoop(caller: BenchCaller, concurrency: number, durationMs: number): Promise<LoopResult> {
  latencies ??= new Float64Array(MAX_SAMPLES);
  const samples = latencies;
  const startedAt = new Float64Array(concurrency);
  let count = 0;
  let errors = 0;
  let firstError: string | undefined;
  let active = concurrency;
  return new Promise((resolve) => {
    const before = snapshot();
    const end = before.at + durationMs;
    const finish = (): void => {
      const after = snapshot();
      resolve({ calls: count, errors, firstError, wallMs: after.at - before.at, client: between(before, after) });
    };
    const starts: ((now: number) => void)[] = [];
    for (let i = 0; i < concurrency; i++) {
      const request = makeRequest(i);
      const next = (now: number): void => {
        if (now >= end) {
          if (--active === 0) finish();
          return;
        }
        startedAt[i] = now;
        caller.call(request, slot);
      };
      const ok = (): void => {
        const now = performance.now();
        if (count < MAX_SAMPLES) samples[count] = now - startedAt[i]!;
        count++;
        next(now);
      };
      const fail = (error: unknown): void => {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
        next(performance.now());
      };
      const slot: CallSlot = { ok, fail, node: (error) => (error ? fail(error) : ok()) };
      starts.push(next);
    }
    for (const start of starts) start(performance.now());
  });
}

/** QPS and latency percentiles of the loop that just ran (its latencies are still in the array). */
export function summarizeLoop(loop: LoopResult): RoundResult {
  const sorted = latencies!.subarray(0, Math.min(loop.calls, MAX_SAMPLES)).sort();
  const pick = (p: number) => (sorted.length === 0 ? 0 : percentileOfSorted(sorted, p) * 1000);
  return { ...loop, qps: (loop.calls / loop.wallMs) * 1000, p50Us: pick(50), p99Us: pick(99) };
}

export async function runRound(caller: BenchCaller, concurrency: number, durationMs: number): Promise<RoundResult> {
  return summarizeLoop(await runLoop(caller, concurrency, durationMs));
}

/** One call outside any round (the echo check before timing starts). */
export function callOnce(caller: BenchCaller, request: Parameters<BenchCaller['call']>[0]): Promise<unknown> {
  return new Promise((resolve, reject) => caller.call(request, { ok: resolve, fail: reject, node: (error, response) => (error ? reject(error) : resolve(response)) }));
}

/**
 * Exactly `calls` calls, `concurrency` in flight, from the same callback slots as `runLoop` but with
 * no clock: for scripts that count what a call costs (bytes, promises, GC) rather than time it.
 * Resolves with the number of calls that failed.
 */
export function runCalls(caller: BenchCaller, calls: number, concurrency: number): Promise<{ calls: number; errors: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let ended = 0;
    let errors = 0;
    const request = makeRequest(1);
    const next = (): void => {
      if (++ended === calls) resolve({ calls, errors });
      else if (sent < calls) send();
    };
    const failed = (): void => {
      errors++;
      next();
    };
    const slot: CallSlot = { ok: next, fail: failed, node: (error) => (error ? failed() : next()) };
    const send = (): void => {
      sent++;
      caller.call(request, slot);
    };
    for (let i = 0; i < concurrency && sent < calls; i++) send();
  });
}
