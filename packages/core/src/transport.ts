import type { Endpoint } from './endpoint.js';
import type { RpcError } from './errors.js';
import type { Metadata } from './metadata.js';
import type { Disposable } from './registry.js';
import type { ClientStream, MessageWriter, OutboundStream, StreamHandler } from './transport-stream.js';

/** One request as the client side of a transport writes it. */
export interface OutboundRequest {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly metadata: Metadata;
  /**
   * The request message's bytes. On a request with `bodyLength` they may be encoded only when this
   * is first read: a transport that does not write the request before `send`/`call` returns reads
   * it before returning (the caller may reuse its message object once the call is made).
   */
  readonly body: Uint8Array;
  /**
   * Optional, set by the kernel when the method's codec has the in-place fast path
   * (`MessageCodec.encodedLength`/`encodeInto`): the size of `body`, known before its bytes exist.
   * A transport that batches its writes reserves this many bytes and has `writeBody` encode the
   * message straight into them — no Uint8Array per request, no copy. Both are used within
   * `send`/`call` (the codec pairs the size pass with the write that follows it); a transport
   * without a batch buffer ignores them and reads `body`.
   */
  readonly bodyLength?: number;
  /** Writes the `bodyLength` bytes of the body at `target[offset…]`; returns the end offset. Present with `bodyLength`. */
  writeBody?(target: Uint8Array, offset: number): number;
  /** Remaining time; travels to the server so its handler sees the same deadline. */
  readonly timeoutMs: number;
  /**
   * Optional: the clock reading `timeoutMs` was measured from, given only when it is on the
   * transport's own clock (the kernel gives it to the native transport it built on its clock). The
   * transport's deadline is then `sentAt + timeoutMs`, with no clock read of its own.
   */
  readonly sentAt?: number;
  readonly attempt: number;
  readonly signal: AbortSignal | undefined;
}

export interface InboundResponse {
  readonly body: Uint8Array;
  readonly metadata: ReadonlyMap<string, string>;
}

export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'draining' | 'backoff' | 'closed';

export interface ConnectionEvent {
  readonly endpoint: Endpoint;
  readonly state: ConnectionState;
  readonly reason: string;
}

/** Where a transport's `send` delivers the outcome of one call: exactly one of the two, exactly once. */
export interface ResponseSink {
  /**
   * The answer. `body` may be a view of the transport's read buffer: decode it before returning.
   * `arrivedAt` (optional): a clock reading for the read that brought the answer, taken on its first
   * use and shared by every answer of that read (hundreds under load: one clock read instead of one
   * per answer); call it within `onResponse`. The native transport gives it, on its `clock`.
   */
  onResponse(body: Uint8Array, metadata: ReadonlyMap<string, string>, arrivedAt?: () => number): void;
  onError(error: RpcError): void;
}

/**
 * The client half of a transport: a pool of multiplexed connections per endpoint. Rejects with an
 * RpcError whose `mayHaveRun` is false when the request was never written (not connected, refused,
 * GOAWAY), so retries can be safe.
 */
export interface ClientTransport {
  call(endpoint: Endpoint, request: OutboundRequest): Promise<InboundResponse>;
  /**
   * Optional: `call` without a promise — the outcome goes to `sink` (possibly before `send`
   * returns). The kernel uses it when a transport has it: a promise, its reaction and a microtask
   * less per call. Same semantics as `call` otherwise, `mayHaveRun` included.
   */
  send?(endpoint: Endpoint, request: OutboundRequest, sink: ResponseSink): void;
  /**
   * Optional: opens one stream (issue #18; `packages/core/src/transport-stream.ts`). Never throws:
   * a stream that cannot open fails through its `headers` / `responses`. A transport without it
   * carries unary calls only; the kernel fails stream calls to its endpoints with UNIMPLEMENTED.
   */
  openStream?(endpoint: Endpoint, stream: OutboundStream): ClientStream;
  /** Heartbeat on every open connection to the endpoint; resolves with the slowest round-trip ms. */
  ping(endpoint: Endpoint, timeoutMs: number): Promise<number>;
  state(endpoint: Endpoint): ConnectionState;
  onStateChange(listener: (event: ConnectionEvent) => void): Disposable;
  /** The directory's current list: connections to endpoints no longer listed are closed. */
  retain(endpoints: readonly Endpoint[]): void;
  close(): Promise<void>;
}

export interface PeerInfo {
  readonly host: string;
  readonly port: number;
  /** Authenticated identity (e.g. the mTLS certificate subject), when the transport has one. */
  readonly identity?: string;
}

export interface InboundRequest {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly metadata: Metadata;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
  readonly attempt: number;
  readonly peer: PeerInfo;
}

/** How the server core answers one inbound request; exactly one of respond/fail is called. */
export interface ServerExchange {
  /**
   * `metadata`: the trailers; `headers`: the handler's response headers, when it set any (a
   * transport without a header block for unary responses merges them under the trailers).
   */
  respond(body: Uint8Array, metadata: Metadata | undefined, headers?: Metadata): void;
  /**
   * Optional: `respond` with the message still unencoded — `length` bytes that
   * `encoder.encodeInto(message, …)` writes (the codec's in-place fast path, measured by the kernel
   * with `encodedLength` just before). A transport that batches its writes encodes the answer
   * straight into its batch; it calls `encodeInto` before it returns, or never. The kernel uses it
   * when the response codec has the fast path, `respond` otherwise.
   */
  respondEncoded?(length: number, encoder: MessageWriter, message: unknown, metadata: Metadata | undefined, headers?: Metadata): void;
  fail(error: RpcError): void;
  /** Set by the server core; the transport calls it when the client sends CANCEL or disconnects. */
  onCancel: ((reason: RpcError) => void) | undefined;
}

export type RequestHandler = (request: InboundRequest, exchange: ServerExchange) => void;

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Whether the server is serving (ready, not stopping, not held out by a plugin such as the health
   * plugin's `setServing(false)`), for transports that answer health checks themselves (gRPC's
   * `grpc.health.v1`). The kernel passes it; a transport may ignore it.
   */
  readonly serving?: ServingView;
}

/** A server's serving state as the kernel publishes it: false until ready, false again from the start of a graceful stop. */
export interface ServingView {
  readonly serving: boolean;
  onChange(listener: (serving: boolean) => void): Disposable;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Serves over TLS (published in the instance document). Optional: default false. */
  readonly tls?: boolean;
  readonly connectionCount: number;
  /** Calls and streams being served now, for operators (read only when asked). Optional. */
  readonly inflightCount?: number;
  /** Stop accepting connections; send GOAWAY on every open one. New requests are then refused. */
  goAway(reason: string): void;
  /**
   * Like goAway(), for a listener whose address other processes keep serving (a worker leaving its
   * group): clients are asked to open a new connection to the same address (GOAWAY code OK), and
   * requests that cross the GOAWAY are still served. Optional; without it a worker uses goAway().
   */
  handOver?(reason: string): void;
  /** After goAway(): resolves when every client has closed its connection (their calls are all answered). */
  drained(): Promise<void>;
  /** Close every connection (cancelling what still runs) and the listening socket. */
  close(): Promise<void>;
}

export interface ServerTransport {
  /**
   * `streams` serves stream opens (issue #18); a transport given none, or one that has no streams,
   * refuses them per stream with UNIMPLEMENTED (`mayHaveRun: false`).
   */
  listen(options: ListenOptions, handler: RequestHandler, streams?: StreamHandler): Promise<Listener>;
}
