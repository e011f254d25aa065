import type { RpcError } from './errors.js';
import type { Invocation } from './invocation.js';

/**
 * Retry without a promise layer (`ClientPluginContext.setRetryPolicy`): the kernel runs a unary
 * call's attempts itself and asks the policy, synchronously, when an attempt ends, whether and after
 * how long to send another. Every method gets the kernel's own clock readings (`now`), so the policy
 * needs no clock read of its own on the success path. The policy's position is
 * `InterceptorOrder.RETRY`: gates and interceptors ordered before it see the call once, those after
 * it each attempt. Stream calls are not run through the policy: a plugin that retries streams keeps an
 * interceptor for them (`addInterceptor(…, order, 'streams')`).
 *
 * The flow for one call: `startCall` (undefined: send once, no retry); `attempt(state)` is sent; it
 * answers → `succeeded`; it fails (after the kernel's own transparent re-sends) → `failed` returns
 * the pause in ms, or throws the error the call ends with; after the pause (cut short if the caller's
 * signal aborts: `cancelled`) → `resume`, which may throw the error the call ends with, then
 * `attempt(state)` is sent, and so on.
 */
export interface RetryPolicy<S = unknown> {
  /** The call reached retry's position; `now`: the kernel's reading (the call's start, usually). */
  startCall(call: Invocation, now: number): S | undefined;
  /** The invocation the current attempt goes out with (the call's own, or one derived from it). */
  attempt(state: S): Invocation;
  /** The current attempt answered; `now`: the kernel's reading of its end. */
  succeeded(state: S, now: number): void;
  /** The current attempt failed with `error`: the pause before the next attempt, ms (throws to stop). */
  failed(state: S, error: RpcError, now: number): number;
  /** The pause is over, or was cut short by the caller's signal: start the next attempt (throws to stop). */
  resume(state: S, now: number, cancelled: boolean): void;
}

/** Which calls an interceptor takes part in (`ClientPluginContext.addInterceptor`'s third argument). */
export type InterceptedCalls = 'all' | 'unary' | 'streams';
