import type { Clock } from '../clock.js';
import { composeInterceptors, InterceptorOrder, type Interceptor, type Invocation, type Invoker } from '../invocation.js';
import type { InterceptedCalls, RetryPolicy } from '../retry-policy.js';
import { gateInterceptor, retryPolicyInterceptor } from './call-hooks.js';
import type { GateEntry } from './gate-lists.js';

export interface InterceptorEntry {
  readonly interceptor: Interceptor;
  readonly order: number;
  readonly calls: InterceptedCalls;
}

/** The call path a client's plugins asked for, as `CallPipeline` runs it. */
export interface Chains {
  /** Unary calls' interceptor chain; undefined: the pipeline runs gates, policy and attempts itself. */
  readonly chain: Invoker | undefined;
  readonly streamChain: Invoker | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
}

/**
 * Builds the chains. A unary call has a chain only if some interceptor takes unary calls; then the
 * gates and the retry policy join it as layers at their orders (the policy at InterceptorOrder.RETRY),
 * so interceptors, gates and retry keep one order whichever form runs. A stream call always goes
 * through a chain (its set-up is a promise anyway): its interceptors and the gates; the retry policy
 * takes no part in streams. Without a unary chain the pipeline runs the gates active for the call
 * itself (`HookLists.gates`); a gate layer passes the call on while its gate is dormant (`activeGatesOf`).
 */
export function composeChains(
  interceptors: readonly InterceptorEntry[],
  gates: readonly GateEntry[],
  activeGatesOf: (invocation: Invocation) => readonly GateEntry[],
  retryPolicy: RetryPolicy | undefined,
  clock: Clock,
  bottom: Invoker,
): Chains {
  const gateLayers = gates.map((g) => ({ interceptor: gateInterceptor(g, clock, activeGatesOf), order: g.order }));
  const unary = interceptors.filter((i) => i.calls !== 'streams');
  const streams = interceptors.filter((i) => i.calls !== 'unary');
  const compose = (layers: readonly { interceptor: Interceptor; order: number }[]): Invoker | undefined => {
    if (layers.length === 0) return undefined;
    // A stable sort: equal orders keep registration order (gates after interceptors of their order).
    const sorted = [...layers].sort((a, b) => a.order - b.order);
    return composeInterceptors(sorted.map((l) => l.interceptor), bottom);
  };
  const policyLayer = retryPolicy === undefined ? [] : [{ interceptor: retryPolicyInterceptor(retryPolicy, clock), order: InterceptorOrder.RETRY }];
  return {
    chain: unary.length === 0 ? undefined : compose([...unary, ...policyLayer, ...gateLayers]),
    streamChain: compose([...streams, ...gateLayers]),
    retryPolicy,
  };
}
