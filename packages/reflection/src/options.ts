import { Type, parseOptions } from '@trellis/core/toolkit';

/**
 * The options of reflection's entry points as schemas of the one options layer: a misspelt key
 * (`service` for `services`, `timeoutMS`) is refused with ERR_INVALID_OPTION and a "did you mean"
 * hint instead of ignored in silence. `metadata` is a map of the caller's own keys: open.
 */
const ReflectionOptionsSchema = Type.Object({
  services: Type.Optional(Type.Function([], Type.Array(Type.String()), { description: 'a function returning the service names to list' })),
}, { additionalProperties: false });

const ReflectionStreamOptionsSchema = Type.Object({
  timeoutMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a positive number of ms' })),
  metadata: Type.Optional(Type.Object({}, { description: 'metadata to send, such as { authorization: "Bearer …" } (or a Map)' })),
}, { additionalProperties: false });

/** Checks `reflectionReplies` / `addReflection` / gRPC `reflectionService` options. */
export function checkReflectionOptions(options: object): void {
  parseOptions(ReflectionOptionsSchema, options, 'reflection');
}

/** Checks the options of a reflection client's streams (NativeReflectionChannel, the gRPC ReflectionClient). */
export function checkReflectionStreamOptions(options: object, owner: string): void {
  parseOptions(ReflectionStreamOptionsSchema, options, owner);
}
