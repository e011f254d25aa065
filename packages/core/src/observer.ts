import type { Endpoint } from './endpoint.js';
import type { Code, RpcError } from './errors.js';
import type { Invocation } from './invocation.js';

/**
 * One attempt of a call, as the kernel reports it to observers: one send of the request to the
 * endpoint the balancer picked. A transparent re-send (the kernel sending a request that provably
 * never ran to another endpoint) is reported as another send of the same attempt.
 *
 * The kernel keeps one such record per attempt and reuses it for the attempt's re-sends: it is valid
 * only during the callback. Copy what you need; never keep the object.
 */
export interface Attempt {
  /** The attempt's invocation: method, `attempt` number (retry's), metadata, context. */
  readonly invocation: Invocation;
  readonly endpoint: Endpoint;
  /** 1 for the attempt's first send; 2, 3… for the kernel's transparent re-sends. */
  readonly send: number;
  /** Monotonic ms (the client's clock) when this send started. */
  readonly startedAt: number;
  /** How the send ended: `Code.OK`, or the error's code. Read it in `attemptEnd` (OK before). */
  readonly code: Code;
  /** The error, undefined on success. Its `endpoint` is this attempt's endpoint. */
  readonly error: RpcError | undefined;
  /** False only when the request provably never reached a handler (an answer, OK included, is true). */
  readonly mayHaveRun: boolean;
  /** Duration of the send, ms (0 in `attemptStart`). */
  readonly latencyMs: number;
  /** Bytes of the encoded request message (the body; framing differs per transport and is not counted). */
  readonly bytesSent: number;
  /** Bytes of the encoded response message (0 unless the send succeeded). */
  readonly bytesReceived: number;
}

/** What a stream call (issue #18) adds to its `CallEnd`. */
export interface StreamStats {
  /** Whether the stream was set up (the server accepted it); false: it failed before. */
  readonly setUp: boolean;
  /** From the call's start to the set-up, ms (0 when never set up). */
  readonly setUpMs: number;
  /** Request messages handed to the transport (1 for server-streaming). */
  readonly messagesSent: number;
  /** Response messages the caller took. */
  readonly messagesReceived: number;
}

/**
 * A call as the kernel reports its end to observers: after every interceptor, as the caller gets it.
 * Like `Attempt`, valid only during the callback.
 */
export interface CallEnd {
  /** The invocation as the kernel created it (attempt 1). */
  readonly invocation: Invocation;
  readonly code: Code;
  readonly error: RpcError | undefined;
  /**
   * The endpoint that answered; on failure the failed attempt's (`error.endpoint`), or undefined
   * when no endpoint was picked.
   */
  readonly endpoint: Endpoint | undefined;
  /** From the call's start (before the interceptors) to its end, ms; a stream's whole duration. */
  readonly latencyMs: number;
  /**
   * Monotonic ms (the client's clock) when the call ended: the kernel's reading `latencyMs` was
   * measured to. An observer that needs the time of the end uses it instead of reading the clock.
   */
  readonly endedAt: number;
  /**
   * Set for stream calls: a stream's `callEnd` comes when the stream is over (final status, or the
   * caller left its loop: CANCELLED), not at set-up.
   */
  readonly stream?: StreamStats;
}

/**
 * Watches a client's calls and their attempts without changing them: metrics, health availability,
 * the breaker's outcome recording, tracing, retry's record of where each attempt went. Every method
 * is optional and synchronous, runs in the kernel's own flow (no interceptor layer, no promise) and
 * must not throw — an observer's exception is reported once as a process warning and otherwise
 * ignored, so it cannot change a call. Plugins that change a call use a gate (`CallGate`: a check
 * or metadata before it, which may make it wait), the retry policy (`RetryPolicy`) or an interceptor.
 *
 * Stream calls (issue #18): `attemptStart` / `attemptEnd` and the balancer's `Pick.done` cover the
 * stream's *set-up* (until the server accepted it; `latencyMs` is the set-up latency, so latency-aware
 * balancers, breakers and health learn from set-ups, not from how long a stream stays open);
 * `callEnd` comes when the stream is over, with its final code, duration and `stream` counts.
 *
 * `callStart` runs when a call enters the pipeline (before the interceptors) and may return a value:
 * the kernel keeps it with the call and hands it to this observer's other methods for the same call
 * (`undefined` for an attempt of an invocation an interceptor built from scratch). That is how an
 * observer keeps per-call state without a context key: tracing's CLIENT span, for example.
 */
export interface CallObserver<S = unknown> {
  callStart?(invocation: Invocation): S | undefined;
  /** Right after the balancer picked, before the endpoint interceptors: once per send. */
  attemptStart?(attempt: Attempt, state: S | undefined): void;
  /** When the send ended, before the balancer's `Pick.done` is told and before any re-send. */
  attemptEnd?(attempt: Attempt, state: S | undefined): void;
  /** When the call settled, after every interceptor. */
  callEnd?(call: CallEnd, state: S | undefined): void;
}
