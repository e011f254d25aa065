import type { CallObserver } from './observer.js';
import type { Invocation } from './invocation.js';

/**
 * A check or change before a call goes out (`ClientPluginContext.addGate`): the method breaker's open
 * circuit, a fixed credential in the metadata, @trellis/rules holding the first calls until the live
 * documents arrived. The client's twin of `ServerGate`, with the same contract:
 *
 * - return nothing: the call goes on at once (the kernel's fast path: a function call, no promise);
 * - throw (an `RpcError`, usually UNAVAILABLE with `mayHaveRun: false`): the call, or the attempt,
 *   fails with it and nothing is sent;
 * - return a promise (a `PromiseLike<void>`): the call, or the attempt, waits for it; the next gates
 *   run once it fulfils, and its rejection fails the call (or attempt) as a throw would. The call's
 *   deadline and abort signal still apply while it waits: the kernel then ends the call with
 *   DEADLINE_EXCEEDED (CANCELLED for the signal) and does not wait for the promise any further.
 *
 * It may set request metadata (`invocation.metadata.set`). Unlike a server gate, what the promise
 * resolves with is not kept: a client gate's per-call state comes from its `callStart` (a gate is also
 * a `CallObserver`), which hands it to its own `beforeCall` and `callEnd` (a half-open circuit's
 * permit).
 *
 * The kernel runs gates in its own flow, by order: a gate ordered before `InterceptorOrder.RETRY`
 * runs once per call (it judges the call as the caller sees it; its wait is the call's), one ordered
 * after it runs before each attempt on the attempt's invocation (each attempt may wait). When the
 * client also has interceptors, each gate runs at its order among them (as an interceptor would), so
 * the order between gates and interceptors is the same either way. Why not an interceptor: an
 * interceptor is a promise layer on every call, a gate a function call — and a waiting gate costs
 * promises only on the calls it holds.
 */
export interface CallGate<S = unknown> extends CallObserver<S> {
  /** `state`: what this gate's own `callStart` returned for the call (undefined if none). */
  beforeCall(invocation: Invocation, state: S | undefined): void | PromiseLike<void>;
}
