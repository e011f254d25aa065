import type { Endpoint } from '../endpoint.js';
import type { Invocation } from '../invocation.js';
import { NOOP_DONE, type LoadBalancer, type Pick } from './load-balancer.js';

/**
 * Plain round robin. Picks are cached per endpoint object (no feedback needed), so a pick allocates
 * nothing. Weights are ignored on purpose: use `random` for weighted spreading.
 */
export class RoundRobinBalancer implements LoadBalancer {
  readonly name = 'round-robin';
  private cursor = 0;
  private readonly picks = new WeakMap<Endpoint, Pick>();

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    const n = list.length;
    if (n === 0) return undefined;
    const excluded = invocation.excluded;
    for (let tried = 0; tried < n; tried++) {
      const endpoint = list[this.cursor++ % n]!;
      if (excluded.size !== 0 && excluded.has(endpoint.id)) continue;
      return this.pickFor(endpoint);
    }
    return undefined;
  }

  private pickFor(endpoint: Endpoint): Pick {
    let pick = this.picks.get(endpoint);
    if (pick === undefined) {
      pick = { endpoint, done: NOOP_DONE };
      this.picks.set(endpoint, pick);
    }
    return pick;
  }
}
