import {
  createTraceState, isSpanContextValid, trace, type Context, type SpanContext, type TextMapGetter,
  type TextMapPropagator, type TextMapSetter,
} from '@opentelemetry/api';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

// version-traceid-parentid-flags; a later version may append fields after a `-` (W3C §3.2.4.1).
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

function flagsHex(flags: number): string {
  // The two values nearly every span has, without a string conversion per call.
  if (flags === 1) return '01';
  if (flags === 0) return '00';
  return (flags & 0xff).toString(16).padStart(2, '0');
}

/** Parses a `traceparent` header by the W3C Trace Context rules; undefined when it must be ignored. */
export function parseTraceParent(header: string): SpanContext | undefined {
  const match = TRACEPARENT_PATTERN.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // ff is forbidden; version 00 has exactly four fields, later versions may carry more.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * W3C Trace Context (`traceparent`, `tracestate`) with only @opentelemetry/api. The SDK ships the
 * same propagator in @opentelemetry/core; this one lets the plugin propagate out of the box, whatever
 * SDK (or none) the application registered.
 */
export class TraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
    setter.set(carrier, TRACEPARENT, `00-${spanContext.traceId}-${spanContext.spanId}-${flagsHex(spanContext.traceFlags)}`);
    const state = spanContext.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = single(getter.get(carrier, TRACEPARENT));
    if (header === undefined) return context;
    const spanContext = parseTraceParent(header);
    if (spanContext === undefined) return context;
    const state = getter.get(carrier, TRACESTATE);
    if (state !== undefined && state.length > 0) {
      // Several tracestate headers are one list (W3C §3.3.1.1).
      spanContext.traceState = createTraceState(Array.isArray(state) ? state.join(',') : state);
    }
    return trace.setSpanContext(context, spanContext);
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}
