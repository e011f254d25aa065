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

export const RouterOrder = {
  /** Health filtering runs first: later routers only see usable endpoints. */
  HEALTH: 100,
  BREAKER: 200,
  IP: 300,
  PARAM: 400,
  USER: 1000,
} as const;
