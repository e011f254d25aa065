import type { Endpoint } from '../endpoint.js';
import type { Invocation } from '../invocation.js';
import { NOOP_DONE, type LoadBalancer, type Pick } from './load-balancer.js';

/**
 * Weight-aware random choice. The prefix sums are built once per list (list identity changes only
 * when the directory changes), so a pick is one random number and a binary search.
 */
export class WeightedRandomBalancer implements LoadBalancer {
  readonly name = 'random';
  private cachedList: readonly Endpoint[] | undefined;
  private prefix: Float64Array = new Float64Array(0);
  private readonly picks = new WeakMap<Endpoint, Pick>();

  constructor(private readonly random: () => number = Math.random) {}

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    if (list.length === 0) return undefined;
    if (list !== this.cachedList) this.rebuild(list);
    const excluded = invocation.excluded;
    // Excluded endpoints are rare (retries only): draw again a bounded number of times, then scan.
    for (let draw = 0; draw < 4; draw++) {
      const endpoint = list[this.search(this.random() * this.prefix[list.length - 1]!)]!;
      if (excluded.size === 0 || !excluded.has(endpoint.id)) return this.pickFor(endpoint);
    }
    const rest = list.filter((e) => !excluded.has(e.id));
    if (rest.length === 0) return undefined;
    return this.pickFor(rest[Math.floor(this.random() * rest.length)]!);
  }

  private rebuild(list: readonly Endpoint[]): void {
    const prefix = new Float64Array(list.length);
    let sum = 0;
    // A zero-weight list still needs a choice: treat every weight as 1 then.
    const allZero = list.every((e) => !(e.weight > 0));
    for (let i = 0; i < list.length; i++) {
      sum += allZero ? 1 : Math.max(0, list[i]!.weight);
      prefix[i] = sum;
    }
    this.prefix = prefix;
    this.cachedList = list;
  }

  private search(target: number): number {
    const prefix = this.prefix;
    let lo = 0;
    let hi = prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefix[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
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
