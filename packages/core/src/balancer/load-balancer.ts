import type { Endpoint } from '../endpoint.js';
import type { RpcError } from '../errors.js';
import type { Invocation } from '../invocation.js';

/** How an attempt ended. The kernel passes its attempt record: read it during `done`, do not keep it. */
export interface PickOutcome {
  readonly latencyMs: number;
  /** Undefined on success. */
  readonly error?: RpcError;
  /**
   * The attempt's start (the client's clock): exactly the `now` the kernel handed to `pick`, when it
   * handed one. With it and `invocation` a balancer needs no per-call Pick object to remember them.
   */
  readonly startedAt?: number;
  /** The invocation the attempt was picked for (the one handed to `pick`), when the kernel reports. */
  readonly invocation?: Invocation;
}

/** The picked endpoint plus the feedback channel (grpc-js's call-ended callback). */
export interface Pick {
  readonly endpoint: Endpoint;
  /** Called exactly once when the attempt ends. */
  done(outcome: PickOutcome): void;
}

/**
 * Chooses one endpoint per attempt. `list` is what the routers left for this call: it can differ
 * from call to call (a gray release alternates between a v1 and a v2 list), but the same outcome is
 * the same array until the directory or the rules change. So a balancer may cache per list, and
 * should keep what it learns per endpoint id, not per list (LALB keeps a tree per list and shared
 * statistics). Must skip `invocation.excluded`.
 */
export interface LoadBalancer {
  readonly name: string;
  /**
   * `now`: the kernel's clock reading for this attempt's start (monotonic ms, the client's clock), for
   * a balancer that needs the time (LALB) and runs on the client's clock: no clock read of its own.
   * Undefined when the kernel has no reading at hand (a stream's set-up): read the clock then.
   */
  pick(list: readonly Endpoint[], invocation: Invocation, now?: number): Pick | undefined;
  /** Optional: what the balancer has learnt (weights, shares), for operators; never called per call. */
  snapshot?(): unknown;
}

export type LoadBalancerFactory = () => LoadBalancer;

export const NOOP_DONE = (): void => {};
