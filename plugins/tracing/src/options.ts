import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { Type, parseOptions } from '@trellis/core/toolkit';
import type { Semconv } from './attributes.js';
import { globalPropagator } from './global-propagator.js';

export interface TracingOptions {
  /**
   * Where spans come from. Default: the global provider (`trace.setGlobalTracerProvider`, which the
   * SDK's register/NodeSDK set). Give one to trace a client or server with its own provider.
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * How context travels in call metadata. Default: the globally registered propagator (B3, Jaeger,
   * a composite…) through the `propagation` API, and W3C trace context + baggage from
   * @opentelemetry/core while none is registered. Any TextMapPropagator replaces it for this plugin.
   */
  readonly propagator?: TextMapPropagator;
  /**
   * `legacy` (rpc.system / rpc.service / rpc.method) or `stable` (rpc.system.name, rpc.method =
   * `service/method`, rpc.status_code). Default: `stable` when OTEL_SEMCONV_STABILITY_OPT_IN lists
   * `rpc` or `rpc/dup`, else `legacy`.
   */
  readonly semconv?: Semconv;
}

export interface ResolvedTracingOptions {
  readonly tracerProvider: TracerProvider | undefined;
  readonly propagator: TextMapPropagator;
  readonly semconv: Semconv;
}

const method = Type.Function([], Type.Unknown());

const TracingOptionsSchema = Type.Object({
  tracerProvider: Type.Optional(Type.Object({ getTracer: method }, {
    description: 'an OpenTelemetry TracerProvider (an object with getTracer()), or nothing for the global one',
  })),
  propagator: Type.Optional(Type.Object({ inject: method, extract: method, fields: method }, {
    description: 'a TextMapPropagator (inject, extract, fields), e.g. `propagation` from @opentelemetry/api',
  })),
  semconv: Type.Optional(Type.Union([Type.Literal('legacy'), Type.Literal('stable')], { description: "'legacy' or 'stable'" })),
}, { additionalProperties: false }); // a typo is refused, not ignored in silence

function semconvFromEnvironment(): Semconv {
  const optIn = (process.env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '').split(',').map((s) => s.trim());
  return optIn.includes('rpc') || optIn.includes('rpc/dup') ? 'stable' : 'legacy';
}

/** Fills defaults and rejects bad values when `tracing()` is called, where the mistake is. */
export function resolveTracingOptions(options: TracingOptions): ResolvedTracingOptions {
  parseOptions(TracingOptionsSchema, options, 'tracing');
  const { tracerProvider, propagator = globalPropagator, semconv = semconvFromEnvironment() } = options;
  return { tracerProvider, propagator, semconv };
}
