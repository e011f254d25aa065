import { DEFAULT_GROUP, type Metadata } from '@trellis/core';
import type { InboundRequest, Listener, ListenOptions, RequestHandler, ServerExchange, ServerTransport } from '@trellis/core/spi';
import type { RpcError } from '@trellis/core';
import { chainRouters, type GrpcMethodHandler, type GrpcRouter, type GrpcServerCall } from '../server/handler.js';
import { GrpcServer, type GrpcServerOptions } from '../server/grpc-server.js';
import type { HealthStatusSource } from '../services/health.js';
import { followServing } from './follow-serving.js';

export interface GrpcServerTransportOptions extends GrpcServerOptions {
  /** Routers asked before the kernel (e.g. `standardServices({ health, reflection })`). */
  readonly services?: GrpcRouter;
  /** Kept in step with the server's serving state (see follow-serving.ts); the same source `standardServices({ health })` serves. */
  readonly health?: HealthStatusSource;
}

/** Metadata a Trellis client may send to pick a group other than the default (gRPC paths have none). */
export const GROUP_METADATA = 'trellis-group';

/**
 * The kernel's ServerTransport over the gRPC server engine: an `RpcServer` built with it serves its
 * services to any gRPC client, through the same service table and server interceptors (tracing,
 * metrics, limiters, auth) as on its native port. Unary methods only until the kernel has streams;
 * one listener per RpcServer until the kernel takes several (see the README's phase B).
 */
export class GrpcServerTransport implements ServerTransport {
  constructor(private readonly options: GrpcServerTransportOptions = {}) {}

  async listen(options: ListenOptions, handler: RequestHandler): Promise<Listener> {
    const kernel = kernelRouter(handler);
    const server = new GrpcServer(this.options.services ? chainRouters(this.options.services, kernel) : kernel, this.options);
    const address = await server.listen({ host: options.host, port: options.port });
    const following = this.options.health && options.serving ? followServing(this.options.health, options.serving) : undefined;
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
 * Every path as a unary call into the kernel's dispatch: the kernel answers UNIMPLEMENTED (never
 * ran) for what its service table does not have, exactly as on the native transport.
 */
export function kernelRouter(handler: RequestHandler): GrpcRouter {
  const unary: GrpcMethodHandler = {
    kind: 'unary',
    handle: (call) => dispatchUnary(handler, call),
  };
  return { lookup: () => unary };
}

function dispatchUnary(handler: RequestHandler, call: GrpcServerCall): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const metadata = call.metadata;
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
      respond(body: Uint8Array, trailers: Metadata | undefined) {
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
