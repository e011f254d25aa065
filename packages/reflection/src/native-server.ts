import type { MessageCodec, RpcServer, ServiceDefinition } from '@trellis/core';
import { DescriptorPool, type ProtoFiles } from './descriptor-pool.js';
import { REFLECTION_SERVICES, REFLECTION_V1_ROOT, REFLECTION_V1ALPHA_ROOT } from './reflection-protos.js';
import { reflectionReplies, type ReflectionOptions } from './reflection-replies.js';

/**
 * Messages stay bytes: reflection-replies.ts decodes and encodes them itself. The request is copied
 * because the handler reads it after the transport has moved on from the frame it came in.
 */
const BYTES: MessageCodec<Uint8Array> = {
  encode: (message) => message,
  decode: (bytes) => Uint8Array.from(bytes),
};

/** The kernel's definition of a reflection service (`grpc.reflection.v1.ServerReflection` or v1alpha): one bidi method on bytes. */
export function reflectionDefinition(service: string): ServiceDefinition {
  return {
    name: service,
    methods: {
      ServerReflectionInfo: {
        name: 'ServerReflectionInfo',
        localName: 'serverReflectionInfo',
        kind: 'bidi-streaming',
        requestCodec: BYTES,
        responseCodec: BYTES,
        idempotent: true,
        options: {},
      },
    },
  };
}

/**
 * Serves gRPC server reflection (v1 and v1alpha) on a Trellis RpcServer, through the kernel: on its
 * native port, and on a gRPC listener too (`listeners`), for `trellis describe`/`call`, grpcurl
 * and any reflection client. `protos`: the `ProtoPackage`(s) the services were loaded from
 * (`loadProto` of @trellis/codec-protobuf), `{ files, includeDirs }`, or a DescriptorPool.
 *
 * Opt-in, as in every gRPC implementation (grpc-go's `reflection.Register`, grpc-java's
 * ProtoReflectionService, @grpc/reflection): it shows every method and message of the server to
 * whoever can connect. The services are added in the default group and are not registered in the
 * registry (they are a property of the process, not services consumers discover). Call it before
 * `start()`, like `addService`.
 */
export function addReflection(server: RpcServer, protos: ProtoFiles | readonly ProtoFiles[] | DescriptorPool, options: ReflectionOptions = {}): RpcServer {
  const pool = DescriptorPool.of(protos).addRoot(REFLECTION_V1_ROOT).addRoot(REFLECTION_V1ALPHA_ROOT);
  const reply = reflectionReplies(pool, options);
  const implementation = {
    async *serverReflectionInfo(requests: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const request of requests) yield reply(request);
    },
  };
  for (const name of Object.values(REFLECTION_SERVICES)) server.addService(reflectionDefinition(name), implementation, { register: false });
  return server;
}
