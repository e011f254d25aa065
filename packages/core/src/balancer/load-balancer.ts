import type { Endpoint } from '../endpoint.js';
import type { RpcError } from '../errors.js';
import type { Invocation } from '../invocation.js';

export interface PickOutcome {
  readonly latencyMs: number;
  /** Undefined on success. */
  readonly error?: RpcError;
}

/** The picked endpoint plus the feedback channel (grpc-js's call-ended callback). */
export interface Pick {
  readonly endpoint: Endpoint;
  /** Called exactly once when the attempt ends. */
  done(outcome: PickOutcome): void;
}

/**
 * Chooses one endpoint per attempt. `list` keeps its identity until the directory changes, so a
 * balancer may cache per list (LALB rebuilds its tree only then). Must skip `invocation.excluded`.
 */
export interface LoadBalancer {
  readonly name: string;
  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined;
}

export type LoadBalancerFactory = () => LoadBalancer;

export const NOOP_DONE = (): void => {};
