import type { Clock } from '../clock.js';
import { RpcError } from '../errors.js';
import type { CallGate } from '../gate.js';
import { InterceptorOrder, type Interceptor, type Invocation, type Result } from '../invocation.js';
import type { RetryPolicy } from '../retry-policy.js';
import { observerState } from './call-state.js';

/** A gate registered on a client: its order and its index among the client's observers (its state). */
export interface GateEntry {
  readonly gate: CallGate;
  readonly order: number;
  readonly index: number;
}

/** The gates of a client split at retry's position: once per call, and once per attempt. */
export interface Gates {
  readonly perCall: readonly GateEntry[];
  readonly perAttempt: readonly GateEntry[];
}

export function splitGates(gates: readonly GateEntry[]): Gates {
  const sorted = [...gates].sort((a, b) => a.order - b.order);
  return {
    perCall: sorted.filter((g) => g.order < InterceptorOrder.RETRY),
    perAttempt: sorted.filter((g) => g.order >= InterceptorOrder.RETRY),
  };
}

/** Runs gates on an invocation, in order; throws what the first refusing gate throws. */
export function runGates(gates: readonly GateEntry[], invocation: Invocation): void {
  for (let i = 0; i < gates.length; i++) {
    const entry = gates[i]!;
    entry.gate.beforeCall(invocation, observerState(invocation, entry.index));
  }
}

/**
 * A gate in an interceptor chain, when the client has interceptors: it runs at its order among them,
 * so a gate and an interceptor keep their relative order whichever form the kernel uses.
 */
export function gateInterceptor(entry: GateEntry): Interceptor {
  return (next) => (invocation) => {
    entry.gate.beforeCall(invocation, observerState(invocation, entry.index));
    return next(invocation);
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
