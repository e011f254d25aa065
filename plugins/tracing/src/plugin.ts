import { propagation, trace } from '@opentelemetry/api';
import { definePlugin, type Plugin } from '@trellis/core';
import { MethodSpanInfoCache } from './attributes.js';
import { clientTracing, RecentCalls } from './client-tracing.js';
import { globalPropagator } from './global-propagator.js';
import { resolveTracingOptions, type TracingOptions } from './options.js';
import { noContextManager, nothingRegistered, noTracerProvider, onFirstRegistration } from './otel-presence.js';
import { serverTracingObserver } from './server-tracing.js';
import { INSTRUMENTATION_NAME, TRACING_VERSION } from './version.js';

/**
 * OpenTelemetry tracing for clients and servers. On a client: a CLIENT span per call around every
 * attempt, with one event per attempt (a call observer: no interceptor). On a server: a SERVER span
 * per inbound call, continuing the caller's trace, in whose context the handler runs (a server call
 * observer: no interceptor layer; with no SDK registered, no span either).
 */
export function tracing(options: TracingOptions = {}): Plugin {
  const { tracerProvider, propagator, semconv } = resolveTracingOptions(options);
  const methods = new MethodSpanInfoCache(semconv);
  // Without a provider option the global API hands out a proxy tracer, which follows an SDK the
  // application registers later.
  const tracer = () => (tracerProvider ?? trace).getTracer(INSTRUMENTATION_NAME, TRACING_VERSION);
  // With no SDK (the global provider's no-op delegate), no context manager (the active context is
  // always the root one: no parent span, no baggage) and the default propagator falling back to W3C
  // (which writes nothing for the root context), a client call's span and injection change nothing:
  // skipped, checked per call so an SDK, context manager or propagator registered later takes effect.
  // With nothing registered at all (the usual no-SDK process) that check is one property load.
  const clientIdle = tracerProvider === undefined && propagator === globalPropagator
    ? () => nothingRegistered() || (noTracerProvider() && propagation.fields().length === 0 && noContextManager())
    : undefined;
  return definePlugin({
    meta: { name: '@trellis/tracing', kernel: '^0.1.0' },
    setupClient(ctx) {
      const recent = new RecentCalls();
      const observer = clientTracing({ tracer: tracer(), propagator, semconv, methods, recent, idle: clientIdle });
      ctx.observe(observer);
      // Nothing registered with OpenTelemetry yet (the usual no-SDK process): the observer has nothing
      // to do and leaves the call path, until the first registration wakes it — from then on it runs
      // and checks per call as above, so an SDK registered later traces the very next call.
      const cancel = clientIdle !== undefined && nothingRegistered() ? onFirstRegistration(() => ctx.setHookActive(observer, true)) : undefined;
      if (cancel !== undefined) {
        ctx.setHookActive(observer, false);
        ctx.onClose(cancel);
      }
      ctx.addInspector('@trellis/tracing', () => ({ recent: recent.list() }));
    },
    setupServer(ctx) {
      let port: number | undefined;
      ctx.onListening((listener) => {
        port = listener.port;
      });
      ctx.observe(serverTracingObserver({ tracer: tracer(), globalProvider: tracerProvider === undefined, propagator, semconv, methods, port: () => port }));
    },
  });
}
