import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { ErrorCodes, TrellisError } from '@trellis/core';
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

function invalid(name: string, value: unknown, expected: string): TrellisError {
  const shown = typeof value === 'function' ? 'a function' : typeof value === 'object' && value !== null ? 'an object without the needed methods' : JSON.stringify(value);
  return new TrellisError(ErrorCodes.INVALID_OPTION, `tracing option "${name}" is ${shown}; expected ${expected}`);
}

function semconvFromEnvironment(): Semconv {
  const optIn = (process.env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '').split(',').map((s) => s.trim());
  return optIn.includes('rpc') || optIn.includes('rpc/dup') ? 'stable' : 'legacy';
}

/** Fills defaults and rejects bad values when `tracing()` is called, where the mistake is. */
export function resolveTracingOptions(options: TracingOptions): ResolvedTracingOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object (or nothing)');
  const { tracerProvider, propagator = globalPropagator, semconv = semconvFromEnvironment() } = options;
  if (tracerProvider !== undefined && typeof (tracerProvider as Partial<TracerProvider>)?.getTracer !== 'function') {
    throw invalid('tracerProvider', tracerProvider, 'an OpenTelemetry TracerProvider (an object with getTracer()), or nothing for the global one');
  }
  const p = propagator as Partial<TextMapPropagator> | null;
  if (typeof p?.inject !== 'function' || typeof p.extract !== 'function' || typeof p.fields !== 'function') {
    throw invalid('propagator', propagator, 'a TextMapPropagator (inject, extract, fields), e.g. `propagation` from @opentelemetry/api');
  }
  if (semconv !== 'legacy' && semconv !== 'stable') throw invalid('semconv', semconv, "'legacy' or 'stable'");
  return { tracerProvider, propagator, semconv };
}
