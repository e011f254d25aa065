import type { Endpoint } from './endpoint.js';
import type { Invocation } from './invocation.js';

/**
 * Narrows the provider list for one call (traffic isolation, gray release, health filtering).
 * Routers run in ascending `order`. Return the input array itself when nothing is filtered out: list
 * identity is what load balancers cache on. Throw an RpcError to fail the call with a rule's message.
 */
export interface Router {
  readonly name: string;
  readonly order: number;
  route(list: readonly Endpoint[], invocation: Invocation): readonly Endpoint[];
}

/**
 * Routing rules narrow the list first; health and breaker filters then act *within* what the rules
 * allow. The other way round, "healthy if any, else sub-healthy" would be decided across every
 * provider, and a healthy provider outside the route (a v2 in a gray release) could hide the only
 * usable one inside it (a sub-healthy v1), failing every call routed there.
 */
export const RouterOrder = {
  IP: 100,
  PARAM: 200,
  /** User routers that narrow by rules of their own. */
  USER: 250,
  HEALTH: 300,
  BREAKER: 400,
} as const;
