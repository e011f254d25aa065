import { context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace, type Context, type Span, type Tracer, type TextMapPropagator } from '@opentelemetry/api';
import { isStreamKind, MetadataKeys, type ServerCallEnd, type ServerCallObserver, type ServerInvocation } from '@trellis/core';
import { recordFailure, recordSuccess, TrellisAttributes, type MethodSpanInfoCache, type Semconv } from './attributes.js';
import { metadataGetter } from './carrier.js';
import { noContextManager, nothingRegistered, noTracerProvider } from './otel-presence.js';

export interface ServerTracingDeps {
  readonly tracer: Tracer;
  /** The tracer comes from the global provider (no `tracerProvider` option): no SDK may be registered. */
  readonly globalProvider: boolean;
  readonly propagator: TextMapPropagator;
  readonly semconv: Semconv;
  readonly methods: MethodSpanInfoCache;
  /** The listening port, once known (`server.port`). */
  readonly port: () => number | undefined;
}

/** A recording SERVER span and the context the rest of its call runs in. */
class RecordingCall {
  constructor(readonly span: Span, readonly context: Context) {}
}

/**
 * The SERVER span of an inbound call, continuing the caller's trace from the request metadata, as a
 * server call observer (no interceptor layer, no promise): `callStart` extracts the caller's context
 * and starts the span, `enter` runs the rest of the call — gates, interceptors and the handler —
 * inside its context (`context.with`), so with an AsyncLocalStorage context manager everything the
 * handler does, its own outgoing calls above all, belongs to this span; `callEnd` records the
 * kernel's outcome and ends a recording span. The context comes from the metadata alone
 * (ROOT_CONTEXT, not the active one): a transport may run its callbacks in whatever context its
 * sockets were created in, and that context must not leak into the call.
 *
 * With no SDK registered (the global provider's no-op delegate) no span is started: the handler runs
 * in the extracted context, which carries the caller's span context as the no-op span would; and with
 * no context manager either, a context could not reach the handler at all, so a call costs two checks.
 */
export function serverTracingObserver(deps: ServerTracingDeps): ServerCallObserver<RecordingCall | Context> {
  const { tracer, globalProvider, propagator, semconv, methods, port } = deps;
  return {
    callStart(inv) {
      // Nothing registered (no SDK, no context manager): one property load, the check below's answer.
      if (globalProvider && nothingRegistered()) return undefined;
      const noSdk = globalProvider && noTracerProvider();
      if (noSdk && noContextManager()) return undefined;
      const parent = propagator.extract(ROOT_CONTEXT, inv.requestMetadata, metadataGetter);
      if (noSdk) return parent;
      const info = methods.get(inv.method);
      const span = tracer.startSpan(info.name, info.serverOptions, parent);
      if (!span.isRecording()) {
        // Unsampled: the context still has to reach the handler so its calls propagate the decision.
        // With no incoming trace (or tracing suppressed) the span's context is the API's invalid one
        // (nothing to propagate, and an invalid span is the same as none to every tracer): the
        // handler runs in the parent's. An identity check, as on the client (see client-tracing.ts).
        return span.spanContext() === INVALID_SPAN_CONTEXT ? parent : trace.setSpan(parent, span);
      }
      span.setAttribute('network.peer.address', inv.peer.host);
      span.setAttribute('network.peer.port', inv.peer.port);
      const listening = port();
      if (listening !== undefined) span.setAttribute('server.port', listening);
      span.setAttribute(TrellisAttributes.ATTEMPT, inv.attempt);
      const caller = inv.requestMetadata.get(MetadataKeys.CALLER);
      if (caller !== undefined) span.setAttribute(TrellisAttributes.CALLER, caller);
      // A stream passes here once, around its whole handler: one SERVER span per stream.
      if (isStreamKind(inv.method.kind)) span.setAttribute(TrellisAttributes.STREAM_KIND, inv.method.kind!);
      return new RecordingCall(span, trace.setSpan(parent, span));
    },
    enter(state, rest, call: ServerInvocation) {
      return context.with(state instanceof RecordingCall ? state.context : state, rest, undefined, call);
    },
    callEnd(end: ServerCallEnd, state) {
      if (!(state instanceof RecordingCall)) return;
      const span = state.span;
      // A stream's message counts, final once the handler is done (attributes, not one event each).
      const stream = end.invocation.stream;
      if (stream !== undefined) {
        span.setAttribute(TrellisAttributes.STREAM_MESSAGES_SENT, stream.messagesSent);
        span.setAttribute(TrellisAttributes.STREAM_MESSAGES_RECEIVED, stream.messagesReceived);
      }
      // The kernel's error: what the handler threw, or the abort reason of a stream a cancel, the
      // deadline or a dropped connection stopped.
      if (end.error === undefined) recordSuccess(span, semconv);
      else recordFailure(span, semconv, end.error, 'server');
      span.end();
    },
  };
}
