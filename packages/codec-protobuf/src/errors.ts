/**
 * Codes this package adds to the kernel's `ERR_*` set (a missing service uses the kernel's
 * ERR_SERVICE_INVALID). Thrown as TrellisError at load time, never on the call path.
 */
export const ProtoErrorCodes = {
  /** A .proto file could not be found, read or parsed. */
  LOAD_FAILED: 'ERR_PROTO_LOAD_FAILED',
  /** `ProtoPackage.message()` was asked for a type the loaded files do not define. */
  MESSAGE_UNKNOWN: 'ERR_PROTO_MESSAGE_UNKNOWN',
} as const;
