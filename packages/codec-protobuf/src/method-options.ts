import type * as protobuf from 'protobufjs';

/**
 * A method's proto options as one object, in the shape proto-loader gives grpc-js
 * (`{ deprecated, idempotency_level, uninterpreted_option, ...custom }`), so plugins written
 * against either read the same keys, e.g. `options['(google.api.http)']`.
 */
export function methodOptions(method: protobuf.Method): Readonly<Record<string, unknown>> {
  const options: Record<string, unknown> = {
    deprecated: false,
    idempotency_level: 'IDEMPOTENCY_UNKNOWN',
    uninterpreted_option: [],
  };
  for (const entry of method.parsedOptions ?? []) Object.assign(options, entry);
  return Object.freeze(options);
}

/**
 * `option idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS` (descriptor.proto's MethodOptions):
 * the .proto's own way to say a retry cannot do harm. Numbers appear when a root was built from
 * JSON or descriptors (1 = NO_SIDE_EFFECTS, 2 = IDEMPOTENT).
 */
export function isIdempotent(options: Readonly<Record<string, unknown>>): boolean {
  const level = options['idempotency_level'];
  return level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS' || level === 1 || level === 2;
}
