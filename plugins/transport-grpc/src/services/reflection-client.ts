import { ReflectionClient as StreamReflectionClient, checkReflectionStreamOptions, type OpenReflectionStream } from '@trellis/reflection';
import type { Metadata } from '@trellis/core';
import type { GrpcClient, TargetLike } from '../client/grpc-client.js';

export type { ReflectedFile, ReflectionVersion } from '@trellis/reflection';

export interface ReflectionClientOptions {
  /** Metadata sent with the reflection stream (auth tokens…). */
  readonly metadata?: Metadata;
  /** Deadline of each reflection stream (default 10 s). */
  readonly timeoutMs?: number;
}

/** `ServerReflectionInfo` streams to `target` over a GrpcClient, for @trellis/reflection's ReflectionClient. */
export function grpcReflectionStreams(client: GrpcClient, target: TargetLike, options: ReflectionClientOptions = {}): OpenReflectionStream {
  checkReflectionStreamOptions(options, 'ReflectionClient');
  return (service) => {
    const stream = client.stream(target, `/${service}/ServerReflectionInfo`, { metadata: options.metadata, timeoutMs: options.timeoutMs ?? 10_000 });
    return {
      send: (request) => stream.send(request),
      responses: stream[Symbol.asyncIterator](),
      close: () => {
        stream.end();
        stream.cancel('reflection done');
      },
    };
  };
}

/**
 * The client side of gRPC server reflection over a GrpcClient (what grpcurl does): @trellis/reflection's
 * ReflectionClient (v1, falling back to v1alpha; files with their imports) on streams to `target`.
 */
export class ReflectionClient extends StreamReflectionClient {
  constructor(client: GrpcClient, target: TargetLike, options: ReflectionClientOptions = {}) {
    super(grpcReflectionStreams(client, target, options));
  }
}
