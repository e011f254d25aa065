import type { ContextValues } from './context-key.js';
import type { MethodDescriptor } from './definition.js';
import type { Endpoint } from './endpoint.js';
import type { Metadata } from './metadata.js';
import type { ServiceKey } from './service-key.js';

/**
 * One client call as interceptors see it. Readonly: an interceptor that needs a changed call (retry's
 * next attempt) derives one with `withInvocation`, and shares state through `context` keys.
 */
export interface Invocation {
  readonly service: ServiceKey;
  readonly method: MethodDescriptor;
  readonly request: unknown;
  /** Request metadata; interceptors may add entries before the call is written. */
  readonly metadata: Metadata;
  /** Absolute deadline on the kernel's monotonic clock (`performance.now()` ms). */
  readonly deadline: number;
  /** Aborts on caller cancel; the transport sends CANCEL to the server. */
  readonly signal: AbortSignal | undefined;
  /** 1 for the first try; retry increments it. Sent to the server as metadata. */
  readonly attempt: number;
  /** Endpoint ids this call must not be sent to again (failed attempts). */
  readonly excluded: ReadonlySet<string>;
  readonly context: ContextValues;
}

export interface Result {
  readonly response: unknown;
  /** Trailers sent by the server (read-only). */
  readonly metadata: ReadonlyMap<string, string>;
  /** The endpoint that answered. */
  readonly endpoint: Endpoint;
}

export type Invoker = (invocation: Invocation) => Promise<Result>;
/** Cluster-level interceptor (above routing): index 0 of a chain is the outermost layer. */
export type Interceptor = (next: Invoker) => Invoker;

/** Below the load balancer the endpoint is chosen; endpoint interceptors see it. */
export type EndpointInvoker = (invocation: Invocation, endpoint: Endpoint) => Promise<Result>;
export type EndpointInterceptor = (next: EndpointInvoker) => EndpointInvoker;

export const EMPTY_SET: ReadonlySet<string> = new Set<string>();

/** Derives the next attempt of a call: the fields given replace the old ones, the rest is shared. */
export function withInvocation(invocation: Invocation, changes: Partial<Invocation>): Invocation {
  return { ...invocation, ...changes };
}

export function composeInterceptors(interceptors: readonly Interceptor[], last: Invoker): Invoker {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}

export function composeEndpointInterceptors(
  interceptors: readonly EndpointInterceptor[],
  last: EndpointInvoker,
): EndpointInvoker {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}

/**
 * Named slots for the fixed client order: tracing → metrics → breaker → retry → user.
 *
 * The per-method circuit breaker sits above retry, so it judges calls as the caller sees them: a
 * call that retry saved on another endpoint is a success, and a half-open probe is a whole call that
 * retry can steer off a failing endpoint. Below retry it counted attempts, and one failing endpoint
 * out of two could open the method's circuit for every endpoint (per-endpoint circuits, below the
 * balancer, are what take one endpoint out).
 */
export const InterceptorOrder = {
  TRACING: 100,
  METRICS: 150,
  BREAKER: 180,
  RETRY: 200,
  USER: 1000,
} as const;
