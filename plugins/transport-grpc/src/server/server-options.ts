import { Type, invalidOption, parseOptions, type TSchema } from '@trellis/core/toolkit';
import type { GrpcServerOptions } from './grpc-server.js';

/**
 * The keys `GrpcServer` (and `GrpcServerTransport`) accept, as a schema of the one options layer:
 * a misspelt key (`maxRecieveMessageSize`) is refused with ERR_INVALID_OPTION and a "did you mean"
 * hint instead of leaving the default in place in silence. `tls` and `settings` stay open objects:
 * they are handed through to node:tls / the HTTP/2 engine, which own their keys.
 */
const positive = Type.Number({ exclusiveMinimum: 0, description: 'a positive number' });
const ms = (extra: string) => Type.Number({ minimum: 0, description: `a number of ms ≥ 0${extra}` });

export const GRPC_SERVER_OPTION_PROPERTIES = {
  tls: Type.Optional(Type.Object({}, { description: 'node:tls server options (key, cert, ca, requestCert…)' })),
  maxReceiveMessageSize: Type.Optional(positive),
  // Infinity (the default) is a valid size but not a JSON number: checked below, not by the schema.
  maxSendMessageSize: Type.Optional(Type.Unknown()),
  maxConcurrentStreams: Type.Optional(positive),
  maxConnections: Type.Optional(positive),
  receiveHighWaterBytes: Type.Optional(positive),
  minPingIntervalMs: Type.Optional(ms('')),
  maxPingStrikes: Type.Optional(Type.Integer({ minimum: 0, description: 'an integer ≥ 0' })),
  idleTimeoutMs: Type.Optional(ms(' (0 = never)')),
  keepaliveTimeMs: Type.Optional(ms(' (0 = never)')),
  settingsTimeoutMs: Type.Optional(ms(' (0 = no limit)')),
  writeHighWaterMark: Type.Optional(Type.Integer({ minimum: 16 * 1024, description: 'an integer number of bytes ≥ 16384' })),
  settings: Type.Optional(Type.Object({}, { description: 'HTTP/2 settings such as { initialWindowSize, maxFrameSize }' })),
  onError: Type.Optional(Type.Function([Type.String(), Type.Unknown()], Type.Unknown(), { description: 'a function (message, peer) => void' })),
  engine: Type.Optional(Type.Union([Type.Literal('trellis'), Type.Literal('node:http2')])),
} satisfies Record<keyof GrpcServerOptions, TSchema>; // an option added to GrpcServerOptions but not here is a compile error

const GRPC_SERVER_OPTIONS_SCHEMA = Type.Object(GRPC_SERVER_OPTION_PROPERTIES, { additionalProperties: false });

/** Checks server options where they are written (the constructor), against `schema` (the server's own, or a transport's wider one). */
export function checkGrpcServerOptions(options: object, owner = 'GrpcServer', schema: TSchema = GRPC_SERVER_OPTIONS_SCHEMA): void {
  parseOptions(schema, options, owner);
  checkMaxSend(options as { maxSendMessageSize?: unknown }, owner);
}

/** A positive size, Infinity included (the default: no limit). */
export function checkMaxSend(options: { maxSendMessageSize?: unknown }, owner: string): void {
  const value = options.maxSendMessageSize;
  if (value !== undefined && !(typeof value === 'number' && value > 0)) throw invalidOption('maxSendMessageSize', value, 'a positive number (Infinity: no limit)', owner);
}
