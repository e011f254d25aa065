import type { BenchCaller } from './kinds/kind.js';

export interface RoundResult {
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly qps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly wallMs: number;
  /** Client process CPU (user + system) as % of one core over the round. */
  readonly clientCpu: number;
}

/**
 * Closed-loop load: `concurrency` callers, each sending its next call when the previous one answers,
 * for `durationMs`. Latencies go into a preallocated array; no allocation per call beyond the call's own.
 */
export async function runRound(caller: BenchCaller, concurrency: number, durationMs: number): Promise<RoundResult> {
  const latencies = new Float64Array(4_000_000);
  let count = 0;
  let errors = 0;
  let firstError: string | undefined;
  let id = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await caller.call(id++);
        if (count < latencies.length) latencies[count] = performance.now() - t0;
        count++;
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const sorted = latencies.subarray(0, Math.min(count, latencies.length)).sort();
  const pick = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000);
  return {
    calls: count,
    errors,
    firstError,
    qps: (count / wallMs) * 1000,
    p50Us: pick(0.5),
    p99Us: pick(0.99),
    wallMs,
    clientCpu: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
  };
}
