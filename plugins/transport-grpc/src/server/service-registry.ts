import { ErrorCodes, TrellisError } from '@trellis/core';
import type { GrpcMethodHandler, GrpcRouter } from './handler.js';

/** A plain table of services by fully qualified name, each a map of method name → handler. */
export class GrpcServiceRegistry implements GrpcRouter {
  private readonly paths = new Map<string, GrpcMethodHandler>();
  private readonly names: string[] = [];

  /** Adds `service` (`package.Service`) with its methods; throws ERR_SERVICE_DUPLICATE if it is there. */
  add(service: string, methods: Readonly<Record<string, GrpcMethodHandler>>): this {
    if (this.names.includes(service)) {
      throw new TrellisError(ErrorCodes.SERVICE_DUPLICATE, `gRPC service ${service} is already registered`);
    }
    for (const [name, handler] of Object.entries(methods)) this.paths.set(`/${service}/${name}`, handler);
    this.names.push(service);
    return this;
  }

  lookup(path: string): GrpcMethodHandler | undefined {
    return this.paths.get(path);
  }

  /** The services registered, in order. */
  get services(): readonly string[] {
    return this.names;
  }
}
