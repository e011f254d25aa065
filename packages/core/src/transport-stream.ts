import type { RpcError } from './errors.js';
import type { Metadata } from './metadata.js';
import type { PeerInfo } from './transport.js';

/**
 * The streaming half of the transport SPI (issue #18): what a transport offers so the kernel can
 * carry server-, client- and bidirectional streams. Shared by every transport (the native TCP
 * protocol, gRPC over HTTP/2), so the kernel's stream dispatch is one piece of code for both.
 *
 * Shape: connect-es style — messages in are async iterables, messages out are `send()` calls whose
 * result is the flow control. Every transport implements credit-based flow control per stream: a
 * receiver grants credit as its consumer *takes* messages from `responses` / `requests` (not as
 * they arrive), so a fast producer can never grow a slow consumer's memory without bound.
 * Unary calls keep their own, cheaper path (`ClientTransport.send` / `RequestHandler`).
 */
export type StreamKind = 'server-streaming' | 'client-streaming' | 'bidi-streaming';

/** How the client side of a transport opens one stream (the stream counterpart of OutboundRequest). */
export interface OutboundStream {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly kind: StreamKind;
  readonly metadata: Metadata;
  /** Remaining time for the whole stream; travels to the server (one deadline covers the stream). */
  readonly timeoutMs: number;
  readonly attempt: number;
  /** Aborting cancels the stream (the transport sends a cancel to the server). */
  readonly signal: AbortSignal | undefined;
}

/**
 * One open client stream. Errors are `RpcError`s; `mayHaveRun` is false only when the server never
 * saw the stream (not connected, refused before it ran, GOAWAY before the open, stream limit).
 */
export interface ClientStream {
  /**
   * Resolves with the server's response headers once the server accepted the stream (before or
   * with its first message, or with an immediate status); rejects with the stream's error if it
   * failed before that. A caller that wants "the stream is set up" awaits this.
   */
  readonly headers: Promise<ReadonlyMap<string, string>>;
  /**
   * The server's messages, each an owned copy. Ends normally when the server finished with OK;
   * throws the RpcError of any other status (its trailers as `metadata`). Leaving the loop early
   * (`break`, `throw`, `return()`) cancels the stream. Taking messages slowly is the back-pressure:
   * credit goes back to the server as messages are taken. Iterate once.
   */
  readonly responses: AsyncIterable<Uint8Array>;
  /** The server's trailers, once the stream ended with OK (rejects like `responses`). */
  readonly trailers: Promise<ReadonlyMap<string, string>>;
  /**
   * Sends one message. Returns `undefined` when the stream's send credit had room, else a promise
   * that resolves when credit came back — the caller must await it before sending more. Rejects (or
   * throws synchronously) with an RpcError once the stream is over or after `end()`.
   */
  send(body: Uint8Array): Promise<void> | undefined;
  /** Half-close: no more messages from this side. Idempotent. */
  end(): void;
  /** Cancels the stream (CANCELLED on both sides unless it already ended). Idempotent. */
  cancel(reason?: string): void;
}

/**
 * Optional beside `next()` on the iterator of a transport's `responses` / `requests`: the next
 * message if it has already arrived, without a promise turn; `undefined` when none is buffered now
 * (then call `next()`, which also reports the end or the error). Taking a message this way counts
 * as taking it through `next()` for flow control. The kernel uses it so that the messages one
 * socket read brought cost a loop one settled promise each, not a chain of them (issue #18).
 */
export interface BufferedMessages {
  takeBuffered(): Uint8Array | undefined;
}

/** What `ServerStreamExchange.sendEncoded` writes a message with: a codec's fast path (MessageCodec.encodeInto). */
export interface MessageWriter {
  encodeInto(message: unknown, target: Uint8Array, offset: number): number;
}

/** One stream as the server side of a transport hands it to the kernel. */
export interface InboundStream {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly kind: StreamKind;
  readonly metadata: Metadata;
  readonly timeoutMs: number;
  readonly attempt: number;
  readonly peer: PeerInfo;
}

/**
 * How the server core serves one inbound stream; the stream ends with exactly one of `end` / `fail`.
 * `signal` aborts when the client cancels, the connection drops or the transport closes the stream;
 * the deadline is the kernel's (it has `timeoutMs`).
 */
export interface ServerStreamExchange {
  /** The client's messages, each an owned copy; ends at the client's half-close. Iterate once. */
  readonly requests: AsyncIterable<Uint8Array>;
  /** Response headers; optional — without it they go with the first message or the status. */
  sendHeaders(metadata: Metadata | undefined): void;
  /** Like ClientStream.send: `undefined` when credit had room, else a promise to await. */
  send(body: Uint8Array): Promise<void> | undefined;
  /**
   * Optional: `send` for a message the transport encodes itself, straight into its write batch —
   * `length` is what the codec's `encodedLength` returned for it, and the transport calls
   * `encoder.encodeInto(message, …)` before it returns (or, when the message must wait for credit,
   * into a buffer of its own). The kernel uses it with codecs that have the fast path.
   */
  sendEncoded?(length: number, encoder: MessageWriter, message: unknown): Promise<void> | undefined;
  /** Ends the stream with status OK and these trailers. */
  end(trailers: Metadata | undefined): void;
  /** Ends the stream with this error's status (message, trailers from `error.metadata`). */
  fail(error: RpcError): void;
  readonly signal: AbortSignal;
}

/**
 * The server core's stream entry. `methodKind` (set by the kernel's dispatch) answers what a method
 * of a served service is — for a transport whose wire does not carry the method's shape: gRPC sends
 * only the `/package.Service/Method` path, and the server must know whether to read one request
 * message or a stream before it reads any. The native protocol sends the kind in its open frame and
 * does not need it. `undefined`: no such method is served.
 */
export interface StreamHandler {
  (stream: InboundStream, exchange: ServerStreamExchange): void;
  readonly methodKind?: (service: string, method: string) => StreamKind | 'unary' | undefined;
}
