/**
 * The client side: one RpcClient per balancer run over the providers' addresses, driven by N
 * callers in a closed loop (each sends its next call when the previous one ends), every call
 * logged. A failed call's provider comes from a one-line endpoint interceptor, since an RpcError
 * does not say where it was sent.
 */
import { performance } from 'node:perf_hooks';
import { Code, RpcClient, RpcError, type Plugin } from '@trellis/core';
import { lalb } from '@trellis/lb-lalb';
import type { LalbOptions, LocalityAwareBalancer } from '@trellis/lb-lalb';
import { p2c, type P2cBalancer } from '@trellis/lb-p2c';
import type { CallLog } from './call-log.js';
import { loadEchoService, type EchoReply } from '@trellis/testkit';

export const BALANCERS = ['round-robin', 'random', 'lalb', 'p2c'] as const;
export type BalancerName = (typeof BALANCERS)[number];
/** The balancers that learn from latency (the reversal and resume phases wait for them to settle). */
export const ADAPTIVE: ReadonlySet<BalancerName> = new Set(['lalb', 'p2c']);

export interface LoadOptions {
  readonly balancer: BalancerName;
  /** Provider names (as they put them in `servedBy`) and addresses, index-aligned. */
  readonly names: readonly string[];
  readonly addresses: readonly string[];
  readonly callers: number;
  readonly timeoutMs: number;
  /** For the LALB run only. */
  readonly lalbOptions?: LalbOptions;
  readonly log: CallLog;
  /** Timeline origin: logged start times are relative to it. */
  readonly t0: number;
}

/** What an adaptive balancer believes about one endpoint now (its snapshot()). */
export interface BelievedRow {
  readonly id: string;
  /** Its latency estimate: LALB's window average (errors folded in), P2C's peak-EWMA. */
  readonly latencyMs: number;
  /** LALB only: its expected share of the next picks (weight / total). */
  readonly share?: number;
  /** LALB only: the rate its weight was computed from. */
  readonly qps?: number;
}

export interface Load {
  /** What the client's balancer believes now, by endpoint; undefined for round-robin and random. */
  believed(): BelievedRow[] | undefined;
  stop(): Promise<void>;
}

export async function startLoad(options: LoadOptions): Promise<Load> {
  const { log, t0 } = options;
  let lalbBalancer: LocalityAwareBalancer | undefined;
  let p2cBalancer: P2cBalancer | undefined;
  const plugins: Plugin[] = [];
  // Each plugin, used, makes itself the client's balancer; the kernel's two are chosen by name.
  if (options.balancer === 'lalb') plugins.push(lalb({ ...options.lalbOptions, onBalancer: (b) => (lalbBalancer = b) }));
  if (options.balancer === 'p2c') plugins.push(p2c({ onBalancer: (b) => (p2cBalancer = b) }));
  const client = new RpcClient({
    service: loadEchoService(),
    addresses: options.addresses,
    timeoutMs: options.timeoutMs,
    ...(options.balancer === 'round-robin' || options.balancer === 'random' ? { loadBalancer: options.balancer } : {}),
    plugins,
  });
  await client.start();
  const byName = new Map(options.names.map((name, i) => [name, i]));
  const byAddress = new Map(options.addresses.map((address, i) => [address, i]));
  const request = { message: 'lb', id: '1', values: [], delayMs: 0, failCode: 0, failMessage: '' };
  let running = true;
  const caller = async (): Promise<void> => {
    while (running) {
      const started = performance.now();
      try {
        const reply = (await client.invoke('Echo', request)) as EchoReply;
        log.add(started - t0, performance.now() - started, byName.get(reply.servedBy) ?? -1, Code.OK);
      } catch (error) {
        const took = performance.now() - started;
        const code = error instanceof RpcError ? error.code : Code.UNKNOWN;
        // The kernel names the endpoint a failed attempt went to on the error (none: nothing was picked).
        const failedAt = error instanceof RpcError ? error.endpoint?.id : undefined;
        log.add(started - t0, took, byAddress.get(failedAt ?? '') ?? -1, code);
        // A call that fails at once (nothing reachable) must not turn the loop into a spin.
        if (took < 1) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  };
  const callers = Array.from({ length: options.callers }, caller);
  return {
    believed() {
      if (lalbBalancer !== undefined) return lalbBalancer.snapshot().map((r) => ({ id: r.id, latencyMs: r.avgLatencyMs, share: r.share, qps: r.qps }));
      if (p2cBalancer !== undefined) return p2cBalancer.snapshot().map((r) => ({ id: r.id, latencyMs: r.latencyMs }));
      return undefined;
    },
    async stop() {
      running = false;
      await Promise.all(callers);
      await client.close();
    },
  };
}
