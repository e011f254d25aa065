import { reflectionReplies, type DescriptorPool, type ReflectionOptions } from '@trellis/reflection';
import type { GrpcMethodHandler } from '../server/handler.js';

export type { ReflectionOptions } from '@trellis/reflection';

/**
 * `ServerReflectionInfo` (grpc.reflection.v1 and v1alpha) on the gRPC engine: each request on the
 * stream answered from the pool by @trellis/reflection (the same answers a native RpcServer gives
 * with its `addReflection`).
 */
export function reflectionService(pool: DescriptorPool, options: ReflectionOptions = {}): Record<string, GrpcMethodHandler> {
  const reply = reflectionReplies(pool, options);
  return {
    ServerReflectionInfo: {
      kind: 'bidi-streaming',
      async handle(call) {
        for await (const bytes of call.requests) await call.send(reply(bytes));
      },
    },
  };
}
