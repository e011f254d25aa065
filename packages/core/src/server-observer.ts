import type { Code } from './errors.js';
import type { ServerInvocation } from './server/server-invocation.js';

/**
 * An inbound call as the server kernel reports its end to server observers and gates: after the
 * handler settled (or a gate or interceptor refused it), before the answer is sent. Like the
 * client's `CallEnd`, valid only during the callback: the kernel reuses the call's own object.
 */
export interface ServerCallEnd {
  /** The call as the handler saw it (method, service, metadata, peer, `stream` counts). */
  readonly invocation: ServerInvocation;
  /**
   * `Code.OK`, or the code of what was thrown (an RpcError's; UNKNOWN for anything else). A stream
   * whose handler was stopped by a cancel, the deadline or a dropped connection ends with that status.
   */
  readonly code: Code;
  /**
   * What the handler, a gate or an interceptor threw, as thrown (before the kernel redacts it for the
   * caller); a stopped stream's abort reason; undefined on success.
   */
  readonly error: unknown;
  /** The kernel's monotonic ms (the server's clock) when the call entered the pipeline: its deadline's reading. */
  readonly startedAt: number;
  /** From `startedAt` to the end, ms (one clock reading by the kernel per call, shared by every hook). */
  readonly latencyMs: number;
}

/**
 * Watches a server's calls without an interceptor layer (no promise, no clock reading of its own):
 * metrics, tracing's SERVER span. Every method is optional and synchronous; `callStart` and `callEnd`
 * must not throw (an exception is reported once as a process warning and otherwise ignored).
 *
 * `callStart` runs when a call enters the server pipeline, before every gate and interceptor, and
 * may return a state the kernel keeps with the call and hands to `enter` and `callEnd`. `callEnd`
 * runs for every call whose `callStart` ran, however it ended (answered, failed, refused by a gate
 * or an interceptor; a stream when it is over).
 *
 * `enter`, for plugins that carry an execution context (tracing's `context.with`): when `callStart`
 * returned a state, the kernel runs the rest of the call — the gates, the interceptors and the
 * handler's synchronous part — as `enter(state, rest, call)`, which must call `rest(call)` once and
 * return what it returns. An observer whose `callStart` returned undefined costs the call nothing more.
 */
export interface ServerCallObserver<S = unknown> {
  callStart?(call: ServerInvocation, startedAt: number): S | undefined;
  enter?(state: S, rest: (call: ServerInvocation) => unknown, call: ServerInvocation): unknown;
  callEnd?(end: ServerCallEnd, state: S | undefined): void;
}

/**
 * A check before the handler, without an interceptor layer: authentication, admission (rate and
 * concurrency limits). The server's twin of the client's `CallGate`, with the same return contract:
 * nothing (or a state) goes on at once, a throw refuses, a promise makes the call wait. Gates run in
 * their `order` (`ServerInterceptorOrder` names the slots), after every observer's `callStart` and
 * inside their `enter`, before the interceptor chain.
 *
 * `admit` throws (an RpcError) to refuse the call: the handler does not run and the caller gets that
 * error. A check that must wait (a verifier that asks another service) returns a promise instead: the
 * rest of the call waits for it, a rejection refuses the call, and what it resolves with is the
 * state (so a state itself cannot be a promise). The wait ends at the call's deadline
 * (DEADLINE_EXCEEDED) or the caller's cancel: the gate did not admit the call then and hears no
 * end — unless its promise fulfils later all the same, when its `callEnd` comes once, with the call's
 * code and that state. Otherwise it may return a state, handed back to the
 * gate's `callEnd`, which runs once for every call the gate admitted, however the call ended — a gate
 * that takes a slot gives it back there. `callEnd` must not throw.
 */
export interface ServerGate<S = unknown> {
  admit(call: ServerInvocation, startedAt: number): S | undefined | PromiseLike<S | undefined>;
  callEnd?(end: ServerCallEnd, state: S | undefined): void;
}
