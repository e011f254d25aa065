import type { Endpoint, Invocation } from '@trellis/core';
import type { LoadBalancer, Pick, PickOutcome } from '@trellis/core/spi';

/**
 * "Power of two choices": draw two endpoints at random and send the call to the one with fewer calls
 * in flight. Far better than random under uneven latency, with O(1) state per endpoint. The in-flight
 * count comes from Pick.done — the feedback channel every balancer gets.
 */
export class LeastLoadedBalancer implements LoadBalancer {
  readonly name = 'least-loaded';
  private readonly inflight = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    const candidates = invocation.excluded.size === 0 ? list : list.filter((e) => !invocation.excluded.has(e.id));
    if (candidates.length === 0) return undefined;
    const a = candidates[Math.floor(this.random() * candidates.length)]!;
    const b = candidates[Math.floor(this.random() * candidates.length)]!;
    const endpoint = this.load(a) <= this.load(b) ? a : b;
    this.inflight.set(endpoint.id, this.load(endpoint) + 1);
    let finished = false;
    return {
      endpoint,
      done: (_outcome: PickOutcome) => {
        if (finished) return; // done() must count once even if called twice
        finished = true;
        this.inflight.set(endpoint.id, this.load(endpoint) - 1);
      },
    };
  }

  /** Calls in flight per endpoint id (for tests and dashboards). */
  load(endpoint: Endpoint): number {
    return this.inflight.get(endpoint.id) ?? 0;
  }
}
