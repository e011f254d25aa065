import { BACKOFF_OPTIONS_SCHEMA, Type, parseOptions, type TSchema } from '@trellis/core/toolkit';
import { checkMaxSend } from '../server/server-options.js';
import type { GrpcClientOptions } from './grpc-client.js';

/**
 * The keys `GrpcClient` (and `GrpcClientTransport`) accept, as a schema of the one options layer: a
 * misspelt key is refused with ERR_INVALID_OPTION and a "did you mean" hint. `tls` stays open:
 * it is handed through to node:tls, which owns its keys.
 */
const positive = Type.Number({ exclusiveMinimum: 0, description: 'a positive number' });

/** Every option but `onStateChange`, which GrpcClientTransport sets itself. */
export const GRPC_CLIENT_SHARED_PROPERTIES = {
  tls: Type.Optional(Type.Object({}, { description: 'node:tls client options (ca, cert, key, servername…)' })),
  maxReceiveMessageSize: Type.Optional(positive),
  // Infinity (the default) is a valid size but not a JSON number: checked by checkMaxSend.
  maxSendMessageSize: Type.Optional(Type.Unknown()),
  receiveHighWaterBytes: Type.Optional(positive),
  connectTimeoutMs: Type.Optional(positive),
  keepaliveIntervalMs: Type.Optional(Type.Number({ minimum: 0, description: 'a number of ms ≥ 0 (0 = no keepalive pings)' })),
  keepaliveTimeoutMs: Type.Optional(positive),
  connectionsPerTarget: Type.Optional(Type.Integer({ minimum: 1, description: 'an integer ≥ 1' })),
  backoff: Type.Optional(BACKOFF_OPTIONS_SCHEMA),
  userAgent: Type.Optional(Type.String()),
} satisfies Record<Exclude<keyof GrpcClientOptions, 'onStateChange'>, TSchema>; // an option added to GrpcClientOptions but not here is a compile error

const GRPC_CLIENT_OPTIONS_SCHEMA = Type.Object({
  ...GRPC_CLIENT_SHARED_PROPERTIES,
  onStateChange: Type.Optional(Type.Function([Type.Unknown(), Type.String(), Type.String()], Type.Unknown(), { description: 'a function (target, state, reason) => void' })),
}, { additionalProperties: false });

/** Checks client options in the constructor, against `schema` (the client's own, or a transport's). */
export function checkGrpcClientOptions(options: object, owner = 'GrpcClient', schema: TSchema = GRPC_CLIENT_OPTIONS_SCHEMA): void {
  parseOptions(schema, options, owner);
  checkMaxSend(options as { maxSendMessageSize?: unknown }, owner);
}
