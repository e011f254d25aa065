import { Code, DEFAULT_GROUP, RpcError, type Metadata } from '@trellis/core';
import { Type } from '@trellis/core/toolkit';
import type {
  InboundRequest, InboundStream, Listener, ListenOptions, RequestHandler, ServerExchange, ServerStreamExchange, ServerTransport, StreamHandler,
} from '@trellis/core/spi';
import { chainRouters, type GrpcMethodHandler, type GrpcRouter, type GrpcServerCall } from '../server/handler.js';
import { isEncoding } from '../wire/compression.js';
import { GrpcServer, type GrpcServerOptions } from '../server/grpc-server.js';
import type { HealthStatusSource } from '../services/health.js';
import { followServing } from './follow-serving.js';
import { GRPC_SERVER_OPTION_PROPERTIES, checkGrpcServerOptions } from '../server/server-options.js';

const TRANSPORT_OPTIONS_SCHEMA = Type.Object({
  ...GRPC_SERVER_OPTION_PROPERTIES,
  services: Type.Optional(Type.Object({ lookup: Type.Function([Type.String()], Type.Unknown()) }, { description: 'a GrpcRouter such as standardServices({ health, reflection })' })),
  health: Type.Optional(Type.Object({}, { description: 'a HealthStatusSource' })),
}, { additionalProperties: false });

export interface GrpcServerTransportOptions extends GrpcServerOptions {
  /** Routers asked before the kernel (e.g. `standardServices({ health, reflection })`). */
  readonly services?: GrpcRouter;
  /** Kept in step with the server's serving state (see follow-serving.ts); the same source `standardServices({ health })` serves. */
  readonly health?: HealthStatusSource;
}

/** Metadata a Trellis client may send to pick a group other than the default (gRPC paths have none). */
export const GROUP_METADATA = 'trellis-group';

/**
 * The message encoding, as kernel metadata: a handler finds the request's `grpc-encoding` here (absent
 * when the client sent its messages uncompressed), and sets it in `call.responseHeaders` to compress
 * its response messages (`gzip` or `deflate`, if the client accepts it; anything else: uncompressed).
 * The same key on the client side: `GrpcClientTransport` reads it from a call's metadata.
 */
export const ENCODING_METADATA = 'grpc-encoding';

/**
 * The kernel's ServerTransport over the gRPC server engine: an `RpcServer` built with it serves its
 * services to any gRPC client, through the same service table and server interceptors (tracing,
 * metrics, limiters, auth) as on its native port — unary methods and the three stream kinds; one
 * listener per RpcServer until the kernel takes several (see the README's phase B).
 */
export class GrpcServerTransport implements ServerTransport {
  /** Checks every option here, where it is written, not at the first `listen` (a typo is refused, not ignored). */
  constructor(private readonly options: GrpcServerTransportOptions = {}) {
    checkGrpcServerOptions(options, 'GrpcServerTransport', TRANSPORT_OPTIONS_SCHEMA);
  }

  async listen(options: ListenOptions, handler: RequestHandler, streams?: StreamHandler): Promise<Listener> {
    const kernel = kernelRouter(handler, streams);
    const { services, health, ...serverOptions } = this.options;
    const server = new GrpcServer(services ? chainRouters(services, kernel) : kernel, serverOptions);
    const address = await server.listen({ host: options.host, port: options.port });
    const following = health && options.serving ? followServing(health, options.serving) : undefined;
    return {
      host: address.host,
      port: address.port,
      tls: this.options.tls !== undefined,
      get connectionCount() {
        return server.connectionCount;
      },
      goAway: () => server.goAway(),
      drained: () => server.drained(),
      close: () => {
        following?.dispose();
        return server.close(0);
      },
    };
  }
}

/**
 * Every path into the kernel's dispatch. The HTTP/2 path does not say a method's shape, so the
 * kernel's stream handler is asked (`methodKind`): a stream method goes to the stream dispatch,
 * everything else — unknown paths included — to the unary dispatch, and the kernel answers
 * UNIMPLEMENTED (never ran) for what its service table does not have, exactly as on the native
 * transport.
 */
export function kernelRouter(handler: RequestHandler, streams?: StreamHandler): GrpcRouter {
  const unary: GrpcMethodHandler = {
    kind: 'unary',
    handle: (call) => dispatchUnary(handler, call),
  };
  if (streams === undefined || streams.methodKind === undefined) return { lookup: () => unary };
  const methodKind = streams.methodKind;
  const byKind = {
    'server-streaming': { kind: 'server-streaming', handle: (call) => dispatchStream(streams, call) },
    'client-streaming': { kind: 'client-streaming', handle: (call) => dispatchStream(streams, call) },
    'bidi-streaming': { kind: 'bidi-streaming', handle: (call) => dispatchStream(streams, call) },
  } satisfies Record<string, GrpcMethodHandler>;
  return {
    lookup: (path) => {
      const slash = path.indexOf('/', 1);
      if (slash < 0) return unary;
      const kind = methodKind(path.slice(1, slash), path.slice(slash + 1));
      if (kind === 'unary') return unary;
      // A method no served service has goes to the kernel as a stream: its dispatch answers
      // UNIMPLEMENTED at once. As a unary call the engine would first wait for the request's end,
      // and a bidi caller that waits for a reply before half-closing (a reflection client asking a
      // server without reflection) would hang until its deadline.
      return byKind[kind ?? 'bidi-streaming'];
    },
  };
}

/**
 * One gRPC call as a kernel stream. A client-streaming call's one response message is returned to
 * the engine (which writes it with the status); the other kinds send as the kernel sends, each
 * `send()` waiting on HTTP/2 flow control.
 */
function dispatchStream(handler: StreamHandler, call: GrpcServerCall): Promise<Uint8Array | void> {
  return new Promise((resolve, reject) => {
    const metadata = kernelMetadata(call);
    const single = call.kind === 'client-streaming';
    let response: Uint8Array | undefined;
    const stream: InboundStream = {
      group: metadata.get(GROUP_METADATA) ?? DEFAULT_GROUP,
      service: call.service,
      version: '',
      method: call.method,
      kind: call.kind as InboundStream['kind'],
      metadata,
      timeoutMs: call.timeoutMs,
      attempt: call.attempt,
      peer: call.peer,
    };
    const exchange: ServerStreamExchange = {
      requests: call.requests,
      signal: call.signal,
      sendHeaders(headers: Metadata | undefined) {
        if (headers !== undefined) setResponseHeaders(call, headers);
        call.sendHeaders();
      },
      send(body: Uint8Array) {
        if (!single) return call.send(body);
        if (response !== undefined) return Promise.reject(new RpcError(Code.INTERNAL, `client-streaming method ${call.path} answered more than one message`));
        response = body;
        return undefined;
      },
      end(trailers: Metadata | undefined) {
        if (trailers !== undefined) for (const [key, value] of trailers) call.trailers.set(key, value);
        if (single && response === undefined) reject(new RpcError(Code.INTERNAL, `client-streaming method ${call.path} ended without a response message`));
        else resolve(single ? response : undefined);
      },
      fail(error: RpcError) {
        reject(error);
      },
    };
    handler(stream, exchange);
  });
}

function dispatchUnary(handler: RequestHandler, call: GrpcServerCall): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const metadata = kernelMetadata(call);
    const request: InboundRequest = {
      group: metadata.get(GROUP_METADATA) ?? DEFAULT_GROUP,
      service: call.service,
      version: '',
      method: call.method,
      metadata,
      body: call.request,
      timeoutMs: call.timeoutMs,
      attempt: call.attempt,
      peer: call.peer,
    };
    const exchange: ServerExchange = {
      respond(body: Uint8Array, trailers: Metadata | undefined, headers?: Metadata) {
        if (headers !== undefined) setResponseHeaders(call, headers);
        if (trailers !== undefined) for (const [key, value] of trailers) call.trailers.set(key, value);
        resolve(body);
      },
      fail(error: RpcError) {
        reject(error);
      },
      onCancel: undefined,
    };
    // The kernel sets onCancel; the engine aborts on RST_STREAM, the deadline and drops.
    call.onAbort((reason) => exchange.onCancel?.(reason));
    handler(request, exchange);
  });
}

/** The call's metadata as the kernel hands it to handlers: with the request's encoding (ENCODING_METADATA) when it has one. */
function kernelMetadata(call: GrpcServerCall): Metadata {
  const metadata = call.metadata;
  if (call.requestEncoding !== 'identity') metadata.set(ENCODING_METADATA, call.requestEncoding);
  return metadata;
}

/** A handler's response headers onto the engine's call; ENCODING_METADATA chooses the response encoding instead of being sent. */
function setResponseHeaders(call: GrpcServerCall, headers: Metadata): void {
  for (const [key, value] of headers) {
    if (key !== ENCODING_METADATA) call.responseHeaders.set(key, value);
    else if (isEncoding(value)) call.setCompression(value);
  }
}
