import { context, createContextKey, ProxyTracerProvider, ROOT_CONTEXT, trace } from '@opentelemetry/api';

// The API's own no-op provider, as a fresh proxy hands it out while it has no delegate: the object a
// global proxy delegates to until an SDK registers (the API does not export it by name).
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * No SDK: the global tracer provider is the API's proxy and still delegates to its no-op provider,
 * so every span the plugin's proxy tracer would start is a non-recording one that only carries its
 * parent's span context. Asked per call (two property reads and a call): an SDK registered later
 * (`trace.setGlobalTracerProvider`, NodeSDK's `start()`) takes effect at the next call. A provider
 * of another copy of the API is not recognised, which only costs the cheap path, never a span.
 */
export function noTracerProvider(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER;
}

const PROBE = ROOT_CONTEXT.setValue(createContextKey('@trellis/tracing: is a context manager registered?'), true);
const probeIsActive = (): boolean => context.active() === PROBE;

/**
 * No context manager: `context.with` runs its function without making the context active (the API's
 * no-op manager, in place until one is registered), so a context given to the handler is invisible
 * to it and its calls. Probed per call — a manager may be registered later — only when no tracer
 * provider is registered either; with the no-op manager the probe is a few function calls.
 */
export function noContextManager(): boolean {
  return !context.with(PROBE, probeIsActive);
}
