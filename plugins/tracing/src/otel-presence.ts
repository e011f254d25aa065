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

/** Callbacks waiting for the API's globals object to be created (`onFirstRegistration`). */
const waiting: (() => void)[] = [];

/**
 * Calls `callback` once, synchronously, when the first OpenTelemetry registration of the process
 * (tracer provider, context manager, propagator, diag logger…) creates the API's globals object, and
 * returns what cancels that (a closed client's callback is not kept); returns undefined (and never
 * calls it) when that object exists already or cannot be watched. While it has not been created, nothing tracing reads is registered (`nothingRegistered()`),
 * so the client observer can leave the call path (`setHookActive`) and be woken by this at the very
 * registration: an SDK registered later still traces the next call.
 *
 * How: until then the key is an accessor on `globalThis` whose getter answers `undefined` (exactly
 * what a missing key reads as) and whose setter — the API's `registerGlobal` assigns the new object
 * there before it writes its entry — puts the plain property back with that object and calls the
 * callbacks. The API (1.x, every copy of it in the process) reads and writes nothing else there.
 */
export function onFirstRegistration(callback: () => void): (() => void) | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, API_GLOBALS);
  if (descriptor === undefined) {
    if (!Object.isExtensible(globalThis)) return undefined;
    Object.defineProperty(globalThis, API_GLOBALS, {
      configurable: true,
      enumerable: false,
      get: readsUndefined,
      set(value: unknown) {
        Object.defineProperty(globalThis, API_GLOBALS, { value, writable: true, configurable: true, enumerable: true });
        const callbacks = waiting.splice(0);
        for (const fn of callbacks) {
          try {
            fn();
          } catch { /* a woken observer's failure must not fail the registration */ }
        }
      },
    });
  } else if (descriptor.get !== readsUndefined) {
    return undefined; // created already (or somebody else's accessor: not ours to watch)
  }
  waiting.push(callback);
  return () => {
    const at = waiting.indexOf(callback);
    if (at >= 0) waiting.splice(at, 1);
  };
}

function readsUndefined(): undefined {
  return undefined;
}
