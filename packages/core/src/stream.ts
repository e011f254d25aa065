import type { CallOptions } from './client/call-options.js';
import type { Endpoint } from './endpoint.js';
import type { ServerInvocation } from './server/server-invocation.js';

/**
 * The responses of one stream call, as the caller iterates them (issue #18): what a server- or
 * bidi-streaming stub returns, and the `response` of every stream call's `Result` in the cluster
 * interceptor chain (client-streaming included: its one message is this iterable's only element).
 *
 * Iterate it once. The loop ends when the server finished with OK and throws the RpcError of any
 * other status. Leaving the loop early (`break`, `throw`) cancels the stream: the server's
 * `call.signal` aborts with CANCELLED and its generator's `finally` runs. Taking messages slowly is
 * the back-pressure: the server's `yield` waits once the stream's flow-control window is full.
 */
export interface ResponseStream<Res = unknown> extends AsyncIterable<Res> {
  /** The server's response headers, once the stream is set up; rejects with a set-up failure. */
  readonly headers: Promise<ReadonlyMap<string, string>>;
  /** The server's trailers, once the stream ended with OK; rejects with the stream's error. */
  readonly trailers: Promise<ReadonlyMap<string, string>>;
  /** The endpoint serving the stream, once set up (undefined before). */
  readonly endpoint: Endpoint | undefined;
  /** Cancels the stream (the caller's loop then throws CANCELLED). Idempotent. */
  cancel(reason?: string): void;
}

/** The request messages of a client- or bidi-streaming call: any (async) iterable. */
export type RequestStream<Req> = AsyncIterable<Req> | Iterable<Req>;

/** Typed-client shapes of the four method kinds (what `trellis-proto-gen` writes into `<Service>Client`). */
export type UnaryCall<Req, Res> = (request: Req, options?: CallOptions) => Promise<Res>;
export type ServerStreamingCall<Req, Res> = (request: Req, options?: CallOptions) => ResponseStream<Res>;
export type ClientStreamingCall<Req, Res> = (requests: RequestStream<Req>, options?: CallOptions) => Promise<Res>;
export type BidiStreamingCall<Req, Res> = (requests: RequestStream<Req>, options?: CallOptions) => ResponseStream<Res>;

/**
 * Handler shapes of the three stream kinds (what `trellis-proto-gen` writes into `<Service>Handlers`).
 * Response headers (`call.responseHeaders`) go out once the handler ran to its first `await` or
 * `yield`; trailers (`call.responseMetadata`) with the status at the end.
 */
export type ServerStreamingHandler<Req, Res> = (request: Req, call: ServerInvocation) => AsyncIterable<Res>;
export type ClientStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, call: ServerInvocation) => Promise<Res> | Res;
export type BidiStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, call: ServerInvocation) => AsyncIterable<Res>;
