import type * as protobuf from 'protobufjs';

/**
 * How the CLI converts decoded messages for JSON (the same settings its .proto files are loaded
 * with, descriptor-source.ts): int64 as decimal strings, enums by name, bytes as base64,
 * NaN/Infinity as strings, defaults filled in (an operator wants to see `count: 0`), no virtual
 * oneof properties.
 */
export const CLI_CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: true, oneofs: false, json: true };

/** A request as json-mapping's fromJson left it (keys as in the .proto, int64 as text) → wire bytes. */
export function encodeMessage(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

/** Wire bytes → a plain object with keys as in the .proto (json-mapping's toJson renames them). */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): unknown {
  return type.toObject(type.decode(bytes), CLI_CONVERSION);
}
