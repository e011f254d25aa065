import type { Clock } from '../clock.js';
import { RpcError } from '../errors.js';
import type { Interceptor, Invocation, Result } from '../invocation.js';
import type { RetryPolicy } from '../retry-policy.js';
import { observerState, statesOf } from './call-state.js';
import { isThenable, waitWithinCall } from './gate-wait.js';
import type { GateEntry } from './gate-lists.js';

/** A gate returned a promise: what it returned, and the index of the gate to run once it admits. */
export interface GateHold {
  readonly pending: PromiseLike<unknown>;
  readonly next: number;
}

/**
 * Runs gates on an invocation, in order, from `from`; throws what the first refusing gate throws.
 * Returns undefined when every gate admitted at once — the common case, which allocates nothing —
 * or, when one returned a promise, where the run stopped (go on with `awaitGates`).
 */
export function runGates(gates: readonly GateEntry[], invocation: Invocation, from = 0): GateHold | undefined {
  const states = statesOf(invocation); // looked up once, not per gate
  for (let i = from; i < gates.length; i++) {
    const entry = gates[i]!;
    const returned = entry.beforeCall.call(entry.gate, invocation, states === undefined ? undefined : states[entry.index]);
    if (returned !== undefined && isThenable(returned)) return { pending: returned, next: i + 1 };
  }
  return undefined;
}

/**
 * Waits for a held call's gate (within the call's deadline and signal: `waitWithinCall`), then runs
 * the gates after it, waiting again for any that returns a promise. `then` runs once: undefined when
 * every gate admitted, else the error the call or attempt fails with.
 */
export function awaitGates(gates: readonly GateEntry[], invocation: Invocation, hold: GateHold, clock: Clock, then: (error: RpcError | undefined) => void): void {
  waitWithinCall(hold.pending, invocation, clock, (error) => {
    if (error !== undefined) return then(error);
    let next: GateHold | undefined;
    try {
      next = runGates(gates, invocation, hold.next);
    } catch (thrown) {
      return then(RpcError.from(thrown));
    }
    if (next === undefined) then(undefined);
    else awaitGates(gates, invocation, next, clock, then);
  });
}

/**
 * A gate in an interceptor chain, when the client has interceptors: it runs at its order among them,
 * so a gate and an interceptor keep their relative order whichever form the kernel uses. A gate that
 * returns a promise holds the layers below it, within the call's deadline and signal. A dormant gate
 * (`setHookActive`) — one not among `activeGatesOf` the call — passes the call straight on.
 */
export function gateInterceptor(entry: GateEntry, clock: Clock, activeGatesOf: (invocation: Invocation) => readonly GateEntry[]): Interceptor {
  return (next) => (invocation) => {
    if (!activeGatesOf(invocation).includes(entry)) return next(invocation);
    const returned = entry.gate.beforeCall(invocation, observerState(invocation, entry.index));
    if (returned === undefined || !isThenable(returned)) return next(invocation);
    return new Promise<Result>((resolve, reject) => {
      waitWithinCall(returned, invocation, clock, (error) => {
        if (error !== undefined) return reject(error);
        try {
          resolve(next(invocation));
        } catch (thrown) {
          reject(thrown); // a layer below that throws instead of rejecting
        }
      });
    });
  };
}

/**
 * The retry policy in an interceptor chain (at InterceptorOrder.RETRY), when the client has
 * interceptors: the same decisions as the kernel's own attempt loop (CallPipeline), with a promise per
 * attempt because the chain below it is promises.
 */
export function retryPolicyInterceptor(policy: RetryPolicy, clock: Clock): Interceptor {
  return (next) => (invocation) => {
    const state = policy.startCall(invocation, clock.now());
    if (state === undefined) return next(invocation);
    return new Promise<Result>((resolve, reject) => {
      const send = (): void => {
        let pending: Promise<Result>;
        try {
          pending = next(policy.attempt(state));
        } catch (error) {
          pending = Promise.reject(error);
        }
        pending.then(
          (result) => {
            policy.succeeded(state, clock.now());
            resolve(result);
          },
          (thrown: unknown) => {
            let delay: number;
            try {
              delay = policy.failed(state, RpcError.from(thrown), clock.now());
            } catch (error) {
              return reject(error);
            }
            afterPause(delay, invocation.signal, (cancelled) => {
              try {
                policy.resume(state, clock.now(), cancelled);
              } catch (error) {
                return reject(error);
              }
              send();
            });
          },
        );
      };
      send();
    });
  };
}

/**
 * Calls `then(false)` after `ms` (at once, synchronously, when `ms` ≤ 0), or `then(true)` as soon as
 * `signal` aborts (at once if it already has); no timer or listener is left behind.
 */
export function afterPause(ms: number, signal: AbortSignal | undefined, then: (cancelled: boolean) => void): void {
  if (!(ms > 0)) return then(false);
  if (signal?.aborted) return then(true);
  const onAbort = (): void => {
    clearTimeout(timer);
    then(true);
  };
  const timer = setTimeout(() => {
    signal?.removeEventListener('abort', onAbort);
    then(false);
  }, ms);
  signal?.addEventListener('abort', onAbort, { once: true });
}
