import { context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace, type Context, type Span, type Tracer, type TextMapPropagator } from '@opentelemetry/api';
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
    const span = tracer.startSpan(info.name, info.serverOptions, parent);
    if (!span.isRecording()) {
      // Unsampled: the context still has to reach the handler so its calls propagate the decision.
      // With no SDK and no incoming trace the span's context is the API's invalid one (nothing to
      // propagate, and an invalid span is the same as none to every tracer): the handler runs in the
      // parent's. An identity check, as on the client (see client-tracing.ts).
      return runIn(span.spanContext() === INVALID_SPAN_CONTEXT ? parent : trace.setSpan(parent, span), next, inv);
    }
    span.setAttribute('network.peer.address', inv.peer.host);
    span.setAttribute('network.peer.port', inv.peer.port);
    const listening = port();
    if (listening !== undefined) span.setAttribute('server.port', listening);
    span.setAttribute(TrellisAttributes.ATTEMPT, inv.attempt);
    const caller = inv.metadata.get(MetadataKeys.CALLER);
    if (caller !== undefined) span.setAttribute(TrellisAttributes.CALLER, caller);
    // A stream passes here once, around its whole handler: one SERVER span per stream.
    if (isStreamKind(inv.method.kind)) span.setAttribute(TrellisAttributes.STREAM_KIND, inv.method.kind!);
    const call = new ServerCall(span, inv, semconv);
    return runIn(trace.setSpan(parent, span), next, inv).then(call.succeeded, call.failed);
  };
}

/** Ends a recording SERVER span when the handler is done; its two arrow fields are the `then` callbacks. */
class ServerCall {
  constructor(private readonly span: Span, private readonly inv: ServerInvocation, private readonly semconv: Semconv) {}

  readonly succeeded = (response: unknown): unknown => {
    const { span, inv } = this;
    this.counted();
    const stopped = isStreamKind(inv.method.kind) ? streamFailure(inv) : undefined;
    if (stopped !== undefined) recordFailure(span, this.semconv, stopped, 'server');
    else recordSuccess(span, this.semconv);
    span.end();
    return response;
  };

  readonly failed = (error: unknown): never => {
    this.counted();
    recordFailure(this.span, this.semconv, error, 'server');
    this.span.end();
    throw error;
  };

  /** A stream's message counts, final once the handler is done (attributes, not one event each). */
  private counted(): void {
    const stream = this.inv.stream;
    if (stream === undefined) return;
    this.span.setAttribute(TrellisAttributes.STREAM_MESSAGES_SENT, stream.messagesSent);
    this.span.setAttribute(TrellisAttributes.STREAM_MESSAGES_RECEIVED, stream.messagesReceived);
  }
}
