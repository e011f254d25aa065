import type { ContextValues } from '../context-key.js';
import type { MethodDescriptor } from '../definition.js';
import type { Metadata } from '../metadata.js';
import type { ServiceKey } from '../service-key.js';
import type { PeerInfo } from '../transport.js';

/** One inbound call as server interceptors and handlers see it. */
export interface ServerInvocation {
  readonly service: ServiceKey;
  readonly method: MethodDescriptor;
  readonly request: unknown;
  /**
   * The request metadata, the call's own Map: the handler and interceptors may change it (made on
   * first read on the native transport; nothing another call sees changes with it).
   */
  readonly metadata: Metadata;
  /**
   * The same entries, read-only, for code that only reads them (gates and observers: auth's
   * credential, the limiter's caller, tracing's parent context). Reading it makes no Map: on the
   * native transport, requests whose metadata block is byte for byte the previous one's on their
   * connection share one decoded Map. Once `metadata` was read, this is that Map, changes included.
   */
  readonly requestMetadata: ReadonlyMap<string, string>;
  /** Absolute deadline on the kernel's monotonic clock, from the client's remaining time. */
  readonly deadline: number;
  /** Fires on deadline, client CANCEL, disconnect, or forced shutdown. Created on first access. */
  readonly signal: AbortSignal;
  readonly attempt: number;
  readonly peer: PeerInfo;
  readonly context: ContextValues;
  /** Trailers sent back with the response (for a stream: with its final status). */
  readonly responseMetadata: Metadata;
  /**
   * Response headers. A stream call (issue #18) sends them once the handler ran to its first
   * `await` or `yield`: set them before that. A unary call sends them with its response: as the
   * header block on transports that have one (gRPC), merged under the trailers on the native
   * protocol, whose unary response has one metadata block.
   */
  readonly responseHeaders: Metadata;
  /**
   * A stream call's message counts on this side (issue #18): live while the handler runs, final once
   * the chain's `next()` settled — what server metrics and tracing report for a stream.
   */
  readonly stream?: ServerStreamStats;
}

/** Messages a server stream took from the client and sent to it (the handler's, as the kernel carried them). */
export interface ServerStreamStats {
  readonly messagesReceived: number;
  readonly messagesSent: number;
}

/**
 * Runs the rest of the chain. For a unary call it resolves with the response message; for a stream
 * call (`invocation.method.kind`) once the handler is done — every response message sent, or, for
 * client-streaming, with its one response — and rejects with its error: a server interceptor sees a
 * stream once, around the whole handler.
 */
export type ServerInvoker = (invocation: ServerInvocation) => Promise<unknown>;
export type ServerInterceptor = (next: ServerInvoker) => ServerInvoker;

export function composeServerInterceptors(interceptors: readonly ServerInterceptor[], last: ServerInvoker): ServerInvoker {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}

/**
 * Server interceptor slots: tracing outermost, then metrics, limits, auth, user code. Gates
 * (`addGate`) are ordered by the same slots; the built-in plugins are observers and gates now
 * (docs/architecture.md, "The server chain"), which run before every interceptor.
 */
export const ServerInterceptorOrder = {
  TRACING: 100,
  METRICS: 150,
  RATE_LIMIT: 200,
  AUTH: 300,
  USER: 1000,
} as const;
