import { context, INVALID_SPAN_CONTEXT, trace, type Span, type Tracer, type TextMapPropagator } from '@opentelemetry/api';
import type { Attempt, CallEnd, CallObserver, Endpoint, Invocation } from '@trellis/core';
import {
  ATTEMPT_EVENT, codeName, recordFailure, recordSuccess, statusAttribute, statusValue, TrellisAttributes,
  type MethodSpanInfoCache, type Semconv,
} from './attributes.js';
import { metadataSetter } from './carrier.js';

export interface ClientTracingDeps {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  readonly semconv: Semconv;
  readonly methods: MethodSpanInfoCache;
  /** Keeps a summary of the last sampled calls for operators (the admin console's "recent traces"). */
  readonly recent?: RecentCalls;
  /**
   * True while OpenTelemetry has nothing for a call to do: no SDK, no context manager and the default
   * propagator with nothing registered (see plugin.ts). Then a call is not looked at at all.
   */
  readonly idle?: () => boolean;
}

/** One sampled call as the console lists it: its trace, outcome and every send. */
export interface RecentCall {
  readonly traceId: string;
  readonly spanId: string;
  readonly method: string;
  readonly code: string;
  readonly latencyMs: number;
  /** Wall-clock ms when the call ended. */
  readonly endedAt: number;
  readonly attempts: readonly { readonly endpoint: string; readonly attempt: number; readonly transparent: boolean; readonly code: string; readonly latencyMs: number }[];
}

/**
 * A ring of the last `capacity` sampled calls: filled only for recording spans, so unsampled calls pay
 * nothing. It keeps the calls' own records and builds the console's view only when asked (`list()`),
 * so a sampled call allocates no summary of its own.
 */
export class RecentCalls {
  private readonly calls: ClientCall[] = [];
  private next = 0;

  constructor(private readonly capacity = 50) {}

  add(call: ClientCall): void {
    if (this.calls.length < this.capacity) this.calls.push(call);
    else this.calls[this.next] = call;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): RecentCall[] {
    const out: RecentCall[] = [];
    const n = this.calls.length;
    for (let i = 1; i <= n; i++) out.push(this.calls[(this.next - i + n) % n]!.summary());
    return out;
  }
}

type Outcome = RecentCall['attempts'][number];

/** A recording CLIENT span and what the call's attempts told it. The kernel keeps it with the call. */
class ClientCall {
  /** Sends so far (every pick that reached the endpoint chain). */
  sends = 0;
  /** The endpoint of the last send, for `server.address` when the call fails. */
  endpoint: Endpoint | undefined;
  /** Each send's outcome, for the recent-calls summary (only kept when one is asked for). */
  readonly outcomes: Outcome[] = [];
  /** Filled at the end, for the recent-calls summary. */
  method = '';
  code = '';
  latencyMs = 0;
  endedAt = 0;
  /**
   * Sends in flight and their index (1-based, in start order): a hedged call has several at once,
   * so the index of the send that ends is looked up, not taken from `sends`. The usual single send
   * in flight is kept in `only`; the arrays exist once a second send overlaps it.
   */
  private only: Attempt | undefined;
  private onlyIndex = 0;
  private open: Attempt[] | undefined;
  private openIndex: number[] | undefined;

  constructor(readonly span: Span) {}

  started(attempt: Attempt): void {
    const index = ++this.sends;
    this.endpoint = attempt.endpoint;
    if (this.open === undefined && this.only === undefined) {
      this.only = attempt;
      this.onlyIndex = index;
      return;
    }
    this.open ??= [];
    this.openIndex ??= [];
    if (this.only !== undefined) {
      this.open.push(this.only);
      this.openIndex.push(this.onlyIndex);
      this.only = undefined;
    }
    this.open.push(attempt);
    this.openIndex.push(index);
  }

  /** The index `started` gave this send (the kernel's record is the same object until it ends). */
  ended(attempt: Attempt): number {
    if (this.only === attempt) {
      this.only = undefined;
      return this.onlyIndex;
    }
    const at = this.open?.indexOf(attempt) ?? -1;
    if (at < 0) return this.sends;
    const index = this.openIndex![at]!;
    this.open!.splice(at, 1);
    this.openIndex!.splice(at, 1);
    return index;
  }

  summary(): RecentCall {
    const ids = this.span.spanContext();
    return {
      traceId: ids.traceId, spanId: ids.spanId, method: this.method, code: this.code,
      latencyMs: this.latencyMs, endedAt: this.endedAt, attempts: this.outcomes,
    };
  }
}

function setServer(span: Span, endpoint: Endpoint | undefined): void {
  if (endpoint === undefined) return;
  span.setAttribute('server.address', endpoint.host);
  span.setAttribute('server.port', endpoint.port);
}

/**
 * The client side as a call observer (no interceptor layer, no context key): `callStart` opens the
 * CLIENT span — a child of the caller's active span — and injects its context into the request
 * metadata once (attempts share the Map); the kernel keeps the span with the call and hands it to
 * `attemptEnd`, which adds one `trellis.attempt` event per send, and to `callEnd`, which ends it.
 * When the sampler drops the span, only propagation remains: no state, events or attributes.
 *
 * The span is not made the active context around the call's interceptors (nothing in the kernel or
 * the built-in plugins reads it there, and under an AsyncLocalStorage context manager a
 * `context.with` per call is a good part of tracing's cost).
 */
export function clientTracing(deps: ClientTracingDeps): CallObserver<ClientCall> {
  const { tracer, propagator, semconv, methods, recent, idle } = deps;
  const statusKey = statusAttribute(semconv);
  return {
    callStart(inv: Invocation): ClientCall | undefined {
      if (idle !== undefined && idle()) return undefined;
      const info = methods.get(inv.method);
      const parent = context.active();
      const span = tracer.startSpan(info.name, info.clientOptions, parent);
      if (span.isRecording()) {
        propagator.inject(trace.setSpan(parent, span), inv.metadata, metadataSetter);
        return new ClientCall(span);
      }
      // Not sampled: only the context travels (the sampled flag off, so the server and the calls
      // after it follow the decision). With no SDK and no trace to continue, or with tracing
      // suppressed, the span carries the API's invalid context, which no propagator writes: the
      // parent context (its baggage, if any) is injected as it is, with no context built per call.
      // (An identity check: `isSpanContextValid` runs two regular expressions, and an SDK that
      // returned an invalid context of its own would only cost the `setSpan` this skips.)
      propagator.inject(span.spanContext() === INVALID_SPAN_CONTEXT ? parent : trace.setSpan(parent, span), inv.metadata, metadataSetter);
      return undefined;
    },

    attemptStart(attempt: Attempt, call: ClientCall | undefined): void {
      if (call === undefined) return;
      call.started(attempt);
    },

    attemptEnd(attempt: Attempt, call: ClientCall | undefined): void {
      if (call === undefined) return;
      const inv = attempt.invocation;
      const endpoint = attempt.endpoint;
      const index = call.ended(attempt);
      // The kernel counts the sends of one attempt: a second one is its transparent re-send.
      const transparent = attempt.send > 1;
      const attributes: Record<string, string | number | boolean> = {
        [TrellisAttributes.ATTEMPT_INDEX]: index,
        [TrellisAttributes.ATTEMPT]: inv.attempt,
        [TrellisAttributes.ATTEMPT_TRANSPARENT]: transparent,
        'server.address': endpoint.host,
        'server.port': endpoint.port,
        [statusKey]: statusValue(semconv, attempt.code),
        [TrellisAttributes.ATTEMPT_DURATION_MS]: attempt.latencyMs,
      };
      const error = attempt.error;
      if (error !== undefined) {
        attributes['error.type'] = codeName(attempt.code);
        attributes[TrellisAttributes.ERROR_MESSAGE] = error.message;
      }
      call.span.addEvent(ATTEMPT_EVENT, attributes);
      if (recent !== undefined) call.outcomes.push({ endpoint: endpoint.id, attempt: inv.attempt, transparent, code: codeName(attempt.code), latencyMs: attempt.latencyMs });
    },

    callEnd(end: CallEnd, call: ClientCall | undefined): void {
      if (call === undefined) return;
      const span = call.span;
      span.setAttribute(TrellisAttributes.ATTEMPTS, call.sends);
      const stream = end.stream;
      if (stream !== undefined) {
        // One span per stream: its messages are counted here, not one event each.
        span.setAttribute(TrellisAttributes.STREAM_KIND, end.invocation.method.kind ?? 'unary');
        if (stream.setUp) span.setAttribute(TrellisAttributes.STREAM_SET_UP_MS, stream.setUpMs);
        span.setAttribute(TrellisAttributes.STREAM_MESSAGES_SENT, stream.messagesSent);
        span.setAttribute(TrellisAttributes.STREAM_MESSAGES_RECEIVED, stream.messagesReceived);
      }
      if (end.error === undefined) {
        setServer(span, end.endpoint);
        recordSuccess(span, semconv);
      } else {
        setServer(span, end.error.endpoint ?? call.endpoint);
        recordFailure(span, semconv, end.error, 'client');
      }
      span.end();
      if (recent !== undefined) {
        // The ring keeps this record; the console's summary is built from it when asked.
        call.method = end.invocation.method.name;
        call.code = codeName(end.code);
        call.latencyMs = end.latencyMs;
        call.endedAt = Date.now();
        recent.add(call);
      }
    },
  };
}
