/** Stable codes of this package's configuration errors (TrellisError), fastify style. */
export const ReflectionErrorCodes = {
  /** The .proto files given to reflection could not be loaded. */
  PROTO_LOAD_FAILED: 'ERR_REFLECTION_PROTO_LOAD_FAILED',
} as const;
