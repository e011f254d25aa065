import { Code, RpcError, type RpcClient } from '@trellis/core';
import type { FailedSend, SendLog } from './send-log.js';

export interface CallRecord {
  /** ms since the run started, when the call was sent. */
  readonly at: number;
  readonly method: 'Echo' | 'Mutate';
  readonly ok: boolean;
  readonly code: number;
  readonly latencyMs: number;
  /** The attempt that answered (the provider echoes it), 0 for a failure. */
  readonly attempt: number;
  readonly servedBy: string;
  readonly error?: string;
  /** For a failure: whether the request may have run (false: provably never ran). */
  readonly mayHaveRun?: boolean;
  /**
   * Every send of the call that failed (attempts and the kernel's re-sends), when the traffic ran
   * with a `SendLog` (`TrafficOptions.sends`); undefined without one.
   */
  readonly failedSends?: readonly FailedSend[];
}

export interface TrafficOptions {
  readonly rate: number;
  readonly durationMs: number;
  /** Fraction of calls sent to the non-idempotent Mutate. */
  readonly mutateShare?: number;
  readonly timeoutMs?: number;
  /** The consumer's send log (its plugin is on `client`): each record then lists its failed sends. */
  readonly sends?: SendLog;
}

/**
 * Open-loop traffic at a steady rate (calls are sent on schedule whether or not earlier ones
 * answered), so a fault shows up as failures or latency, never as a silent pause in sending.
 */
export async function drive(client: RpcClient, options: TrafficOptions, started: number): Promise<CallRecord[]> {
  const records: CallRecord[] = [];
  const pending: Promise<void>[] = [];
  const begin = performance.now();
  let sent = 0;
  while (performance.now() - begin < options.durationMs) {
    const owed = Math.floor(((performance.now() - begin) / 1000) * options.rate);
    for (; sent < owed; sent++) {
      const method = (options.mutateShare ?? 0) > 0 && sent % Math.round(1 / options.mutateShare!) === 0 ? 'Mutate' : 'Echo';
      const at = performance.now();
      const request = { message: `c${sent}` };
      pending.push(client.invoke(method, request, { timeoutMs: options.timeoutMs }).then(
        (reply) => {
          const r = reply as { servedBy: string; attempt: number };
          records.push({ at: at - started, method, ok: true, code: Code.OK, latencyMs: performance.now() - at, attempt: r.attempt, servedBy: r.servedBy, failedSends: options.sends?.take(request, started) });
        },
        (error: unknown) => {
          const e = RpcError.from(error);
          records.push({ at: at - started, method, ok: false, code: e.code, latencyMs: performance.now() - at, attempt: 0, servedBy: '', error: e.message, mayHaveRun: e.mayHaveRun, failedSends: options.sends?.take(request, started) });
        },
      ));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(pending);
  return records.sort((a, b) => a.at - b.at);
}
