import { context, SpanKind, trace, type Context, type Tracer, type TextMapPropagator } from '@opentelemetry/api';
import type { ContextKey, Endpoint, EndpointInterceptor, Interceptor, Invocation, Result } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import {
  ATTEMPT_EVENT, codeName, codeOf, recordFailure, recordSuccess, statusAttribute, statusValue, TrellisAttributes,
  type MethodSpanInfoCache, type Semconv,
} from './attributes.js';
import { metadataSetter } from './carrier.js';
import { ClientCall } from './client-call.js';

export interface ClientTracingDeps {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  readonly semconv: Semconv;
  readonly methods: MethodSpanInfoCache;
  readonly key: ContextKey<ClientCall | undefined>;
  readonly clock: Clock;
}

function runIn<T>(ctx: Context, fn: (inv: Invocation) => Promise<T>, inv: Invocation): Promise<T> {
  try {
    return context.with(ctx, fn, undefined, inv);
  } catch (error) {
    return Promise.reject(error); // a synchronous throw below must still end the span
  }
}

function setServer(call: ClientCall, endpoint: Endpoint | undefined): void {
  if (endpoint === undefined) return;
  call.span.setAttribute('server.address', endpoint.host);
  call.span.setAttribute('server.port', endpoint.port);
}

/**
 * The CLIENT span of a call, around every attempt (it sits above retry in the cluster chain). Its
 * context goes into the request metadata once: attempts derived from this invocation share the Map.
 * When the sampler drops the span, only propagation remains: no attributes, events or context switch.
 */
export function clientTracingInterceptor(deps: ClientTracingDeps): Interceptor {
  const { tracer, propagator, semconv, methods, key } = deps;
  return (next) => (inv) => {
    const info = methods.get(inv.method);
    const parent = context.active();
    const span = tracer.startSpan(info.name, { kind: SpanKind.CLIENT, attributes: info.attributes }, parent);
    const spanContext = trace.setSpan(parent, span);
    propagator.inject(spanContext, inv.metadata, metadataSetter);
    if (!span.isRecording()) return next(inv);
    const call = new ClientCall(span);
    inv.context.set(key, call);
    return runIn(spanContext, next, inv).then(
      (result: Result) => {
        setServer(call, result.endpoint);
        span.setAttribute(TrellisAttributes.ATTEMPTS, call.sends);
        recordSuccess(span, semconv);
        span.end();
        return result;
      },
      (error: unknown) => {
        setServer(call, call.endpoint);
        span.setAttribute(TrellisAttributes.ATTEMPTS, call.sends);
        recordFailure(span, semconv, error, 'client');
        span.end();
        throw error;
      },
    );
  };
}

/**
 * One `trellis.attempt` event per send, after the balancer picked: the endpoint, the attempt number,
 * whether it was a transparent re-send, the outcome and its duration. Placed outermost in the
 * endpoint chain, so an endpoint-level breaker's rejection shows as that attempt's outcome.
 */
export function attemptTracingInterceptor(deps: ClientTracingDeps): EndpointInterceptor {
  const { semconv, key, clock } = deps;
  const statusKey = statusAttribute(semconv);
  return (next) => (inv, endpoint) => {
    const call = inv.context.get(key);
    if (call === undefined) return next(inv, endpoint);
    const index = ++call.sends;
    const transparent = index > 1 && inv.attempt === call.lastAttempt;
    call.lastAttempt = inv.attempt;
    call.endpoint = endpoint;
    const started = clock.now();
    const event = (error: unknown, failed: boolean): void => {
      const code = failed ? codeOf(error) : 0;
      const attributes: Record<string, string | number | boolean> = {
        [TrellisAttributes.ATTEMPT_INDEX]: index,
        [TrellisAttributes.ATTEMPT]: inv.attempt,
        [TrellisAttributes.ATTEMPT_TRANSPARENT]: transparent,
        'server.address': endpoint.host,
        'server.port': endpoint.port,
        [statusKey]: statusValue(semconv, code),
        [TrellisAttributes.ATTEMPT_DURATION_MS]: clock.now() - started,
      };
      if (failed) {
        attributes['error.type'] = codeName(code);
        attributes[TrellisAttributes.ERROR_MESSAGE] = error instanceof Error ? error.message : String(error);
      }
      call.span.addEvent(ATTEMPT_EVENT, attributes);
    };
    let pending: Promise<Result>;
    try {
      pending = next(inv, endpoint);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        event(undefined, false);
        return result;
      },
      (error: unknown) => {
        event(error, true);
        throw error;
      },
    );
  };
}
