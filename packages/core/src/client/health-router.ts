import type { Endpoint } from '../endpoint.js';
import type { HealthView } from '../health.js';
import type { Invocation } from '../invocation.js';
import { RouterOrder, type Router } from '../router.js';

/**
 * Healthy endpoints if any, else sub-healthy ones, never dead ones. The output is cached per input
 * list and health version, and is the input itself when everything is healthy, so balancers keep
 * their per-list state.
 */
export class HealthRouter implements Router {
  readonly name = 'health';
  readonly order = RouterOrder.HEALTH;
  private lastInput: readonly Endpoint[] | undefined;
  private lastVersion = -1;
  private lastView: HealthView | undefined;
  private lastOutput: readonly Endpoint[] = [];

  constructor(private readonly view: () => HealthView) {}

  route(list: readonly Endpoint[], _invocation: Invocation): readonly Endpoint[] {
    const view = this.view();
    if (list === this.lastInput && view.version === this.lastVersion && view === this.lastView) return this.lastOutput;
    const healthy: Endpoint[] = [];
    const subhealthy: Endpoint[] = [];
    for (const endpoint of list) {
      const state = view.state(endpoint);
      if (state === 'healthy') healthy.push(endpoint);
      else if (state === 'subhealthy') subhealthy.push(endpoint);
    }
    const output = healthy.length === list.length ? list : healthy.length > 0 ? healthy : subhealthy;
    this.lastInput = list;
    this.lastVersion = view.version;
    this.lastView = view;
    this.lastOutput = output;
    return output;
  }
}
