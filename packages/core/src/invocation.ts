import type { ContextValues } from './context-key.js';
import type { MethodDescriptor } from './definition.js';
import type { Endpoint } from './endpoint.js';
import type { FixedMetadata, Metadata } from './metadata.js';
import type { ServiceKey } from './service-key.js';

/**
 * One client call as interceptors see it. Readonly: an interceptor that needs a changed call (retry's
 * next attempt) derives one with `withInvocation`, and shares state through `context` keys.
 */
export interface Invocation {
  readonly service: ServiceKey;
  /** The method, `kind` included: a stream call (issue #18) goes through the chain once, at set-up. */
  readonly method: MethodDescriptor;
  /**
   * The request message; for client- and bidi-streaming calls the caller's (async) iterable of
   * request messages, which the kernel reads once the call reached the transport.
   */
  readonly request: unknown;
  /** Request metadata; interceptors may add entries before the call is written. */
  readonly metadata: Metadata;
  /** Absolute deadline on the kernel's monotonic clock (`performance.now()` ms). */
  readonly deadline: number;
  /** Aborts on caller cancel; the transport sends CANCEL to the server. */
  readonly signal: AbortSignal | undefined;
  /** 1 for the first try; retry increments it. Sent to the server as metadata. */
  readonly attempt: number;
  /** Endpoint ids this call must not be sent to again (failed attempts). */
  readonly excluded: ReadonlySet<string>;
  readonly context: ContextValues;
}

/**
 * What `next()` resolves with. For a stream call it resolves when the stream is set up (the server
 * accepted it and sent its headers): `response` is then the `ResponseStream` of decoded responses
 * (for every stream kind; client-streaming's one message is its only element) and `metadata` the
 * response headers — the trailers come later, on `response.trailers`.
 */
export interface Result {
  readonly response: unknown;
  /** Trailers sent by the server (read-only); for a stream call, its response headers. */
  readonly metadata: ReadonlyMap<string, string>;
  /** The endpoint that answered. */
  readonly endpoint: Endpoint;
}

export type Invoker = (invocation: Invocation) => Promise<Result>;
/** Cluster-level interceptor (above routing): index 0 of a chain is the outermost layer. */
export type Interceptor = (next: Invoker) => Invoker;

/** Below the load balancer the endpoint is chosen; endpoint interceptors see it. */
export type EndpointInvoker = (invocation: Invocation, endpoint: Endpoint) => Promise<Result>;
export type EndpointInterceptor = (next: EndpointInvoker) => EndpointInvoker;

export const EMPTY_SET: ReadonlySet<string> = new Set<string>();

/** What a client adds to each of its calls' metadata, shared by its calls (it may change while the client starts). */
export interface RequestDefaults {
  /** The entries every call carries (`ClientPluginContext.addRequestMetadata`, the `caller` option). */
  metadata: FixedMetadata;
}

/**
 * The invocation the client creates for each call. Its metadata Map is created when somebody reads
 * it (an interceptor, an observer, a stream call), with the client's fixed entries copied in: most
 * calls never do, and send the client's shared fixed map as it is (`metadataOf`), where a Map per
 * call was 200 B of the client's garbage (docs/performance.md).
 */
export class CallInvocation implements Invocation {
  /** The fixed entries were copied into `entries` (done once, when the metadata is first read). */
  private merged = false;

  constructor(
    readonly service: ServiceKey,
    readonly method: MethodDescriptor,
    readonly request: unknown,
    /** The metadata the call was given or that was created for it so far; undefined while nobody asked for it. */
    private entries: Metadata | undefined,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    readonly attempt: number,
    readonly excluded: ReadonlySet<string>,
    readonly context: ContextValues,
    private readonly defaults: RequestDefaults,
  ) {}

  get metadata(): Metadata {
    const fixed = this.defaults.metadata;
    const entries = this.entries;
    if (entries === undefined) {
      this.merged = true;
      return (this.entries = fixed.size === 0 ? new Map() : new Map(fixed));
    }
    if (!this.merged) {
      this.merged = true;
      // The client's fixed entries win over the call's own, as a credential gate writing them did.
      if (fixed.size !== 0) for (const [key, value] of fixed) entries.set(key, value);
    }
    return entries;
  }

  /** The metadata to send: the client's shared fixed map while nobody read or gave the call any. */
  get wireMetadata(): Metadata {
    return this.entries === undefined ? this.defaults.metadata : this.metadata;
  }
}

/** The request metadata of an invocation for the wire: a kernel-made call that has none sends its client's fixed map (shared, read-only). */
export function metadataOf(invocation: Invocation): Metadata {
  if (invocation instanceof CallInvocation) return invocation.wireMetadata;
  return invocation.metadata;
}

/**
 * Derives the next attempt of a call: the fields given replace the old ones, the rest is shared —
 * `context` included, which is the call's identity for the kernel (observer state, attempts).
 */
export function withInvocation(invocation: Invocation, changes: Partial<Invocation>): Invocation {
  return {
    service: changes.service ?? invocation.service,
    method: changes.method ?? invocation.method,
    request: 'request' in changes ? changes.request : invocation.request,
    metadata: changes.metadata ?? invocation.metadata,
    deadline: changes.deadline ?? invocation.deadline,
    signal: 'signal' in changes ? changes.signal : invocation.signal,
    attempt: changes.attempt ?? invocation.attempt,
    excluded: changes.excluded ?? invocation.excluded,
    context: changes.context ?? invocation.context,
  };
}

export function composeInterceptors(interceptors: readonly Interceptor[], last: Invoker): Invoker {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}

export function composeEndpointInterceptors(
  interceptors: readonly EndpointInterceptor[],
  last: EndpointInvoker,
): EndpointInvoker {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}

/**
 * Named slots of the cluster chain (around the whole call, above routing), outermost first. No two
 * built-in plugins share a slot; a user interceptor takes `USER` (or a number between two slots).
 *
 * - `TRACING` (100), `METRICS` (150): free since tracing and metrics observe calls through
 *   `ClientPluginContext.observe` (no interceptor layer); kept for interceptors that must run
 *   outermost (e.g. one that sets an OpenTelemetry context around the call).
 * - `BREAKER` (180): the per-method circuit, above retry, so it judges calls as the caller sees them:
 *   a call that retry saved on another endpoint is a success, and a half-open probe is a whole call
 *   that retry can steer off a failing endpoint. Below retry it counted attempts, and one failing
 *   endpoint out of two could open the method's circuit for every endpoint (per-endpoint circuits,
 *   below the balancer, are what take one endpoint out).
 * - `RETRY` (200): every attempt below it routes and picks again.
 * - `RULES_GATE` (900): @trellis/rules holds the first calls until the live rule documents arrived
 *   (inside retry, so the wait costs no attempt; tracing's call span, opened in its observer's
 *   `callStart` before any interceptor, covers it).
 * - `AUTH` (950): @trellis/auth's client credential, written into each attempt's metadata.
 * - `USER` (1000): application interceptors, innermost, closest to routing.
 */
export const InterceptorOrder = {
  TRACING: 100,
  METRICS: 150,
  BREAKER: 180,
  RETRY: 200,
  RULES_GATE: 900,
  AUTH: 950,
  USER: 1000,
} as const;

/**
 * Named slots of the endpoint chain (per send, after the balancer picked; the endpoint is known),
 * outermost first. No built-in plugin uses the endpoint chain since issue #17: everything that only
 * observes an attempt's outcome (metrics, health availability, breaker recording, tracing, retry's
 * note of where each attempt went) is a `CallObserver`, and the per-endpoint circuit is a router.
 * The chain stays for plugins that change a send once its endpoint is known.
 *
 * - `REWRITE` (100): change the request for this endpoint (per-endpoint credentials, metadata).
 * - `USER` (1000): application endpoint interceptors.
 * - `WIRE` (10 000): last before the codec and transport (fault injection, wire-level tests).
 */
export const EndpointInterceptorOrder = {
  REWRITE: 100,
  USER: 1000,
  WIRE: 10_000,
} as const;
