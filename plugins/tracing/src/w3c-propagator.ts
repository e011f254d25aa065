import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * W3C trace context (`traceparent`, `tracestate`) and W3C baggage, the propagators of
 * `@opentelemetry/core`: what the plugin propagates while the application has registered no global
 * propagator. Both skip injection when tracing is suppressed (`suppressTracing` from
 * `@opentelemetry/core`).
 */
export const w3cPropagator: TextMapPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});
