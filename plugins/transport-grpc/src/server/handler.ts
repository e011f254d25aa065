import type { Metadata, RpcError } from '@trellis/core';
import type { PeerInfo } from '@trellis/core/spi';
import type { Encoding } from '../wire/compression.js';

/** The four shapes of a gRPC method (whether each side sends one message or a stream). */
export type GrpcMethodKind = 'unary' | 'server-streaming' | 'client-streaming' | 'bidi-streaming';

/** True when the client sends exactly one request message (unary, server-streaming). */
export function singleRequest(kind: GrpcMethodKind): boolean {
  return kind === 'unary' || kind === 'server-streaming';
}

/** True when the server answers with exactly one message (unary, client-streaming). */
export function singleResponse(kind: GrpcMethodKind): boolean {
  return kind === 'unary' || kind === 'client-streaming';
}

/**
 * One inbound gRPC call as a handler sees it, at the bytes level: messages are serialized bytes, the
 * handler's codec (protobuf, JSON…) is its own business.
 *
 * - unary and server-streaming handlers read `request` (the one request message);
 *   client- and bidi-streaming handlers iterate `requests`.
 * - unary and client-streaming handlers return the response message; streaming-response handlers
 *   call `send()` for each message (it resolves when HTTP/2 flow control lets more be written).
 * - A handler ends the call by returning (status OK with `trailers`) or throwing: an `RpcError`
 *   gives its code, message and metadata (sent as trailers); anything else is UNKNOWN.
 */
export interface GrpcServerCall {
  /** `/package.Service/Method` as received. */
  readonly path: string;
  /** `package.Service`. */
  readonly service: string;
  /** `Method`. */
  readonly method: string;
  readonly kind: GrpcMethodKind;
  /** The client's metadata (protocol headers left out; `-bin` values as base64 text). */
  readonly metadata: Metadata;
  /** Monotonic (`performance.now()`) ms at which the call expires; Infinity without `grpc-timeout`. */
  readonly deadline: number;
  /** The `grpc-timeout` received, in ms (0 when none). */
  readonly timeoutMs: number;
  /** Which attempt this is: 1 + `grpc-previous-rpc-attempts` (set by retrying clients). */
  readonly attempt: number;
  /** Aborts when the client cancels, the deadline passes or the connection drops; reason: an RpcError. */
  readonly signal: AbortSignal;
  /** The same moment as `signal`'s abort, without creating an AbortSignal (for dispatch layers). */
  onAbort(listener: (reason: RpcError) => void): void;
  readonly peer: PeerInfo;
  /** The single request message (unary, server-streaming); empty for the other kinds. */
  readonly request: Uint8Array;
  /** The request messages (client-streaming, bidi); ends at the client's half-close. */
  readonly requests: AsyncIterable<Uint8Array>;
  /** Whether the request message last delivered arrived compressed. */
  readonly requestCompressed: boolean;
  /** The request's `grpc-encoding` (identity when it named none). */
  readonly requestEncoding: Encoding;
  /** Headers sent before the first response message (or with the status, if there is none). */
  readonly responseHeaders: Metadata;
  /** Metadata sent with the status at the end of the call. */
  readonly trailers: Metadata;
  /** Compress responses with this encoding, if the client accepts it (`grpc-accept-encoding`). Set before the first message. */
  setCompression(encoding: Encoding): void;
  /** Sends the response headers now (otherwise they go with the first message). */
  sendHeaders(): void;
  /**
   * Sends one response message (streaming-response methods). Resolves when it was handed to the
   * HTTP/2 stream without exceeding its buffer, so a producer awaiting it follows the peer's flow
   * control; rejects with CANCELLED once the call is over. `compress: false` sends it uncompressed.
   */
  send(message: Uint8Array, options?: { compress?: boolean }): Promise<void>;
}

/** A method at the bytes level: its kind and the function that runs one call. */
export interface GrpcMethodHandler {
  readonly kind: GrpcMethodKind;
  handle(call: GrpcServerCall): Uint8Array | void | Promise<Uint8Array | void>;
}

/**
 * What the engine asks for each call: the handler of a `/package.Service/Method` path, or undefined
 * (the client gets UNIMPLEMENTED). The Trellis kernel plugs its own dispatch in here; the engine's
 * standard services (health, reflection) are a GrpcServiceRegistry, chained with `chainRouters`.
 */
export interface GrpcRouter {
  lookup(path: string): GrpcMethodHandler | undefined;
}

/** The first router that knows a path answers. */
export function chainRouters(...routers: GrpcRouter[]): GrpcRouter {
  return {
    lookup(path) {
      for (const router of routers) {
        const handler = router.lookup(path);
        if (handler !== undefined) return handler;
      }
      return undefined;
    },
  };
}
