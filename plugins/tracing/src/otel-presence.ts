import { context, createContextKey, ProxyTracerProvider, ROOT_CONTEXT, trace } from '@opentelemetry/api';

// The API's own no-op provider, as a fresh proxy hands it out while it has no delegate: the object a
// global proxy delegates to until an SDK registers (the API does not export it by name).
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Where the API (major version 1, the one this package depends on) keeps its globals: an object on
 * `globalThis` that the first registration of anything (tracer provider, context manager, propagator,
 * diag logger, metrics) creates, and a registration writes its entry into. The API does not export the
 * key; it is `Symbol.for` of a fixed name, so every copy of API 1.x in the process shares it.
 */
const API_GLOBALS = Symbol.for('opentelemetry.js.api.1');

interface ApiGlobals {
  readonly trace?: unknown;
  readonly context?: unknown;
  readonly propagation?: unknown;
}

/**
 * Nothing tracing reads is registered: no tracer provider, no context manager, no propagator — the
 * state of a process with no SDK, read with one property load (two to four once anything else, a diag
 * logger say, is registered). Every registration writes the globals object first, so an SDK registered
 * later is seen at the next call. When this says no, the precise checks below decide: it only chooses
 * the cheap path when they would too (a registered entry the API ignores — another, incompatible
 * version — only costs those checks).
 */
export function nothingRegistered(): boolean {
  const globals = (globalThis as { [API_GLOBALS]?: ApiGlobals })[API_GLOBALS];
  return globals === undefined || (globals.trace === undefined && globals.context === undefined && globals.propagation === undefined);
}

/**
 * No SDK: the global tracer provider is the API's proxy and still delegates to its no-op provider,
 * so every span the plugin's proxy tracer would start is a non-recording one that only carries its
 * parent's span context. Asked per call once anything is registered (`nothingRegistered()` answers
 * first; here: two property reads and a call behind the API's global look-up): an SDK registered later
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
