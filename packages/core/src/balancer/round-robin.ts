import type { Endpoint } from '../endpoint.js';
import type { Invocation } from '../invocation.js';
import { NOOP_DONE, type LoadBalancer, type Pick } from './load-balancer.js';

/**
 * Plain round robin. Picks are cached per endpoint object (no feedback needed), so a pick allocates
 * nothing. Weights are ignored on purpose: use `random` for weighted spreading.
 *
 * Re-picks (a retry, a backup request, the kernel's transparent retry: the calls with endpoints
 * excluded) turn a cursor of their own. Sharing one would skew first attempts: with two providers
 * and one failing, each failed call's re-pick would advance the cursor past the healthy one, so
 * nearly every first attempt would land on the failing one.
 */
export class RoundRobinBalancer implements LoadBalancer {
  readonly name = 'round-robin';
  private cursor = 0;
  private retryCursor = 0;
  private readonly picks = new WeakMap<Endpoint, Pick>();

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    const n = list.length;
    if (n === 0) return undefined;
    const excluded = invocation.excluded;
    if (excluded.size === 0) return this.pickFor(list[this.cursor++ % n]!);
    for (let tried = 0; tried < n; tried++) {
      const endpoint = list[this.retryCursor++ % n]!;
      if (excluded.has(endpoint.id)) continue;
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
