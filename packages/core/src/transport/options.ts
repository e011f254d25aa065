import { BACKOFF_OPTION_KEYS } from '../backoff.js';
import { invalidOption } from '../errors.js';
import { rejectUnknownKeys } from '../options.js';
import { DEFAULT_FRAME_LIMITS, MAX_HEADER_LENGTH, MIN_HEADER_SIZE_LIMIT, type FrameLimits } from './frame.js';
import type { TcpClientOptions } from './tcp-client-transport.js';
import type { TcpServerOptions } from './tcp-server-transport.js';

// Every key of each options type (the `satisfies` makes a key added to the type but not here a
// compile error): a misspelt key is refused with a "did you mean" hint instead of ignored in silence.
// `tls` is handed through to node:tls, which owns its keys: not checked here.
const TCP_SERVER_OPTION_KEYS = Object.keys({
  limits: true, maxConcurrentStreams: true, maxConnections: true, onProtocolError: true, tls: true, handshakeTimeoutMs: true,
  idleTimeoutMs: true, maxPingsPerSecond: true, minReceiveRate: true, receiveRateWindowMs: true, maxPartialFrameBytes: true,
  writeHighWaterMark: true, maxInflightRequestBytes: true, maxOpenStreams: true, streamWindow: true,
} satisfies Record<keyof TcpServerOptions, true>);

const TCP_CLIENT_OPTION_KEYS = Object.keys({
  connectionsPerEndpoint: true, connectTimeoutMs: true, backoff: true, limits: true, maxPingsPerSecond: true, clock: true, tls: true, streamWindow: true,
} satisfies Record<keyof TcpClientOptions, true>);

const FRAME_LIMIT_KEYS = Object.keys(DEFAULT_FRAME_LIMITS);

/** Refuses a key TcpServerTransport does not know (as RpcServer's `tcp` too). */
export function rejectUnknownTcpServerKeys(options: object): void {
  rejectUnknownKeys('TcpServerTransport', options, TCP_SERVER_OPTION_KEYS);
}

/** Refuses a key TcpClientTransport does not know (as RpcClient's `tcp` too), its `backoff`'s included. */
export function rejectUnknownTcpClientKeys(options: TcpClientOptions): void {
  rejectUnknownKeys('TcpClientTransport', options, TCP_CLIENT_OPTION_KEYS);
  if (typeof options.backoff === 'object' && options.backoff !== null) rejectUnknownKeys('backoff', options.backoff, BACKOFF_OPTION_KEYS, 'backoff.');
}

/** The frame limits of either side, defaults filled in and checked (ERR_INVALID_OPTION). */
export function resolveFrameLimits(limits: Partial<FrameLimits> | undefined): FrameLimits {
  if (typeof limits === 'object' && limits !== null) rejectUnknownKeys('frame limit', limits, FRAME_LIMIT_KEYS, 'limits.');
  const resolved = { ...DEFAULT_FRAME_LIMITS, ...limits };
  integerOption('limits.maxHeaderSize', resolved.maxHeaderSize, MIN_HEADER_SIZE_LIMIT, MAX_HEADER_LENGTH);
  integerOption('limits.maxBodySize', resolved.maxBodySize, 1, 0xffffffff);
  integerOption('limits.maxMetadataEntries', resolved.maxMetadataEntries, 0, 0xffffffff);
  return resolved;
}

/** `value` (or `fallback` when undefined) as an integer in min..max, else ERR_INVALID_OPTION. */
export function integerOption(name: string, value: number | undefined, min: number, max: number, fallback?: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved! < min || resolved! > max) {
    throw invalidOption(name, resolved, `an integer in ${min}..${max}`);
  }
  return resolved!;
}
