/**
 * A closed loop on a virtual clock, for load-balancer tests: `callers` callers each send their next
 * call as soon as the last one ends; each call's latency comes from `latencyMs(endpointId)` at pick
 * time (return Infinity for "never answers": the call fails at the timeout with DEADLINE_EXCEEDED,
 * fed back as the kernel does). No sockets, no machine noise: a run of minutes takes a second.
 */
import { Code, RpcError, type Endpoint, type Invocation, type LoadBalancer, type Pick } from '@trellis/core';
import type { FakeClock } from './balancer-fixtures.js';
import { testInvocation } from './balancer-fixtures.js';

export interface ClosedLoopOptions {
  readonly balancer: LoadBalancer;
  readonly clock: FakeClock;
  /** The list handed to every pick, or a function of the call number (routed lists). */
  readonly list: readonly Endpoint[] | ((call: number) => readonly Endpoint[]);
  /** Latency of a call sent now to this endpoint (ms); Infinity = no answer. */
  latencyMs(endpointId: string): number;
  readonly callers: number;
  /** Per-call timeout (ms). Default 500. */
  readonly timeoutMs?: number;
  /** The invocation of call number `call` (default: an empty request with the deadline). */
  readonly invocation?: (call: number, deadline: number) => Invocation;
}

interface Call {
  readonly pick: Pick;
  readonly start: number;
  readonly end: number;
  readonly failed: boolean;
}

/** Calls started per endpoint id, over the whole run or one `run()`. */
export type Counts = Map<string, number>;

export class ClosedLoop {
  private readonly calls: Call[] = [];
  private issued = 0;
  private readonly timeoutMs: number;

  constructor(private readonly options: ClosedLoopOptions) {
    this.timeoutMs = options.timeoutMs ?? 500;
  }

  /** Runs `ms` of virtual time; returns the calls started per endpoint in each `binMs` bin. */
  run(ms: number, binMs = ms): Counts[] {
    const { clock } = this.options;
    const from = clock.now();
    const until = from + ms;
    const bins: Counts[] = [];
    const started = (id: string) => {
      const bin = Math.floor((clock.now() - from) / binMs);
      while (bins.length <= bin) bins.push(new Map());
      bins[bin]!.set(id, (bins[bin]!.get(id) ?? 0) + 1);
    };
    while (this.calls.length < this.options.callers) started(this.issue());
    while (this.calls.length > 0) {
      let next = 0;
      for (let i = 1; i < this.calls.length; i++) if (this.calls[i]!.end < this.calls[next]!.end) next = i;
      const call = this.calls[next]!;
      if (call.end > until) break;
      this.calls.splice(next, 1);
      clock.set(call.end);
      const latencyMs = call.end - call.start;
      call.pick.done(call.failed ? { latencyMs, error: new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded', { mayHaveRun: true }) } : { latencyMs });
      if (clock.now() < until) started(this.issue());
    }
    clock.set(until);
    while (bins.length < Math.ceil(ms / binMs)) bins.push(new Map());
    return bins;
  }

  private issue(): string {
    const { clock, balancer } = this.options;
    const now = clock.now();
    const call = this.issued++;
    const list = typeof this.options.list === 'function' ? this.options.list(call) : this.options.list;
    const deadline = now + this.timeoutMs;
    const invocation = this.options.invocation?.(call, deadline) ?? testInvocation({ deadline });
    const pick = balancer.pick(list, invocation);
    if (pick === undefined) throw new Error(`the balancer picked nothing from ${list.length} endpoints`);
    const latency = this.options.latencyMs(pick.endpoint.id);
    const failed = !(latency < this.timeoutMs);
    this.calls.push({ pick, start: now, end: now + (failed ? this.timeoutMs : latency), failed });
    return pick.endpoint.id;
  }
}

/** Each endpoint's share of the calls in `bins` (ids in `ids` order; 0 for one that got none). */
export function sharesOf(bins: readonly Counts[], ids: readonly string[]): number[] {
  const counts = ids.map(() => 0);
  let total = 0;
  for (const bin of bins) {
    for (const [id, n] of bin) {
      total += n;
      const i = ids.indexOf(id);
      if (i >= 0) counts[i]! += n;
    }
  }
  return counts.map((c) => (total === 0 ? 0 : c / total));
}
