import { ReflectionErrorCodes } from '@trellis/reflection';

/** Stable codes of this package's configuration errors (TrellisError), fastify style. */
export const GrpcErrorCodes = {
  /** The .proto files given to reflection could not be loaded (thrown by @trellis/reflection's DescriptorPool). */
  PROTO_LOAD_FAILED: ReflectionErrorCodes.PROTO_LOAD_FAILED,
} as const;
