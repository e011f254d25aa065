import type { CallObserver } from './observer.js';
import type { Invocation } from './invocation.js';

/**
 * A synchronous check or change before a call goes out (`ClientPluginContext.addGate`): the method
 * breaker's open circuit, a fixed credential in the metadata. `beforeCall` may throw an error (an
 * `RpcError`, usually UNAVAILABLE with `mayHaveRun: false`): the call, or the attempt, fails with it
 * and nothing is sent. It may set request metadata (`invocation.metadata.set`). It must not wait:
 * a check that needs a promise is an interceptor.
 *
 * A gate is also a `CallObserver`: its `callStart` can hand per-call state (a half-open circuit's
 * permit) to its own `beforeCall` and `callEnd`. The kernel runs gates in its own flow, by order: a
 * gate ordered before `InterceptorOrder.RETRY` runs once per call (it judges the call as the caller
 * sees it), one ordered after it runs before each attempt on the attempt's invocation. When the client
 * also has interceptors, each gate runs at its order among them (as an interceptor would), so the
 * order between gates and interceptors is the same either way. Why not an interceptor: an interceptor
 * is a promise layer on every call, a gate a function call.
 */
export interface CallGate<S = unknown> extends CallObserver<S> {
  /** `state`: what this gate's own `callStart` returned for the call (undefined if none). */
  beforeCall(invocation: Invocation, state: S | undefined): void;
}
