import { context, isSpanContextValid, ROOT_CONTEXT, SpanKind, trace, type Context, type Tracer, type TextMapPropagator } from '@opentelemetry/api';
import { isStreamKind, MetadataKeys, type ServerInterceptor, type ServerInvocation } from '@trellis/core';
import { recordFailure, recordSuccess, streamFailure, TrellisAttributes, type MethodSpanInfoCache, type Semconv } from './attributes.js';
import { metadataGetter } from './carrier.js';

export interface ServerTracingDeps {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  readonly semconv: Semconv;
  readonly methods: MethodSpanInfoCache;
  /** The listening port, once known (`server.port`). */
  readonly port: () => number | undefined;
}

function runIn(ctx: Context, fn: (inv: ServerInvocation) => Promise<unknown>, inv: ServerInvocation): Promise<unknown> {
  try {
    return context.with(ctx, fn, undefined, inv);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The SERVER span of an inbound call, continuing the caller's trace from the request metadata. The
 * rest of the chain and the handler run inside its context (`context.with`), so with an
 * AsyncLocalStorage context manager everything the handler does — its own outgoing calls above all —
 * belongs to this span. The context comes from the metadata alone (ROOT_CONTEXT, not the active one):
 * a transport may run its callbacks in whatever context its sockets were created in, and that
 * context must not leak into the call. (The default TCP transport does not; a custom one might.)
 */
export function serverTracingInterceptor(deps: ServerTracingDeps): ServerInterceptor {
  const { tracer, propagator, semconv, methods, port } = deps;
  return (next) => (inv) => {
    const info = methods.get(inv.method);
    const parent = propagator.extract(ROOT_CONTEXT, inv.metadata, metadataGetter);
    const span = tracer.startSpan(info.name, { kind: SpanKind.SERVER, attributes: info.attributes }, parent);
    if (!span.isRecording()) {
      // Unsampled: the context still has to reach the handler so its calls propagate the decision.
      // With no SDK and no incoming trace the span's context is invalid (nothing to propagate, and
      // an invalid span is the same as none to every tracer): the handler runs in the parent's.
      return runIn(isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : parent, next, inv);
    }
    const spanContext = trace.setSpan(parent, span);
    span.setAttribute('network.peer.address', inv.peer.host);
    span.setAttribute('network.peer.port', inv.peer.port);
    const listening = port();
    if (listening !== undefined) span.setAttribute('server.port', listening);
    span.setAttribute(TrellisAttributes.ATTEMPT, inv.attempt);
    const caller = inv.metadata.get(MetadataKeys.CALLER);
    if (caller !== undefined) span.setAttribute(TrellisAttributes.CALLER, caller);
    // A stream passes here once, around its whole handler: one SERVER span per stream.
    const stream = isStreamKind(inv.method.kind);
    if (stream) span.setAttribute(TrellisAttributes.STREAM_KIND, inv.method.kind!);
    // The stream's message counts, final once the handler is done (attributes, not one event each).
    const counted = (): void => {
      if (inv.stream === undefined) return;
      span.setAttribute(TrellisAttributes.STREAM_MESSAGES_SENT, inv.stream.messagesSent);
      span.setAttribute(TrellisAttributes.STREAM_MESSAGES_RECEIVED, inv.stream.messagesReceived);
    };
    return runIn(spanContext, next, inv).then(
      (response) => {
        counted();
        const stopped = stream ? streamFailure(inv) : undefined;
        if (stopped !== undefined) recordFailure(span, semconv, stopped, 'server');
        else recordSuccess(span, semconv);
        span.end();
        return response;
      },
      (error: unknown) => {
        counted();
        recordFailure(span, semconv, error, 'server');
        span.end();
        throw error;
      },
    );
  };
}
