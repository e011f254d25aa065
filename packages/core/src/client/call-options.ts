import { Code, describeValue, RpcError } from '../errors.js';
import { MetadataKeys, type Metadata } from '../metadata.js';

/** Per-call options, the last argument of every typed client method. */
export interface CallOptions {
  /** Overrides the client's and the method's default timeout. */
  readonly timeoutMs?: number;
  /** Request metadata (headers); a Map or a plain object. Keys are lower-cased; values are strings. */
  readonly metadata?: Metadata | Readonly<Record<string, string>>;
  /** Cancels the call: the caller gets CANCELLED and the server's handler signal fires. */
  readonly signal?: AbortSignal;
  /** Overrides the method's idempotency for this call (retry reads it). */
  readonly idempotent?: boolean;
}

/**
 * The longest timeout a call may have: Node's timers overflow past 2^31 − 1 ms (about 24.8 days)
 * and then fire at once, and the request header carries the timeout as a uint32.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

export const TIMEOUT_EXPECTED = `a number of ms > 0 and ≤ ${MAX_TIMEOUT_MS} (about 24.8 days)`;

/** A real number of ms in (0, MAX_TIMEOUT_MS]: not a string, NaN or Infinity. */
export function isTimeoutMs(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && value <= MAX_TIMEOUT_MS;
}

/** gRPC's header-name alphabet, after lower-casing. */
/** What a metadata key may be made of (lower-case: HTTP/2 and gRPC only know lower-case header names). */
export const METADATA_KEY = /^[0-9a-z_.-]+$/;
const RESERVED_PREFIX = 'trellis-';

function refused(message: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, message, { mayHaveRun: false });
}

/**
 * Checks one call's options; returns the error to reject the call with (INVALID_ARGUMENT, never
 * ran), or undefined. Runs only when options are given; one pass over their keys.
 */
export function callOptionsProblem(options: CallOptions): RpcError | undefined {
  if (typeof options !== 'object' || options === null) return refused(`call options are ${describeValue(options)}; expected an object { timeoutMs, metadata, signal, idempotent }`);
  for (const key in options) {
    const value = (options as Record<string, unknown>)[key];
    switch (key) {
      case 'timeoutMs':
        if (value !== undefined && !isTimeoutMs(value)) return refused(`call option "timeoutMs" is ${describeValue(value)}; expected ${TIMEOUT_EXPECTED}`);
        break;
      case 'idempotent':
        if (value !== undefined && typeof value !== 'boolean') return refused(`call option "idempotent" is ${describeValue(value)}; expected true or false`);
        break;
      case 'signal':
        if (value !== undefined && !(value instanceof AbortSignal)) return refused('call option "signal" is not an AbortSignal');
        break;
      case 'metadata':
        break;
      default:
        return refused(`call option "${key}" is unknown; the call options are timeoutMs, metadata, signal and idempotent`);
    }
  }
  return undefined;
}

/**
 * The request metadata of one call, as its own Map (interceptors may add to it): keys lower-cased
 * (HTTP/2 and gRPC only know lower-case header names), values strings, the kernel's `trellis-` keys
 * refused. Throws INVALID_ARGUMENT (never ran) naming the entry.
 */
export function requestMetadata(given: CallOptions['metadata']): Metadata {
  const metadata: Metadata = new Map();
  if (given === undefined) return metadata;
  let entries: Iterable<readonly [unknown, unknown]>;
  if (given instanceof Map) entries = given;
  else if (typeof given === 'object' && given !== null && !Array.isArray(given)) entries = Object.entries(given);
  else throw refused(`call option "metadata" is ${describeValue(given)}; expected a Map or an object of string values`);
  for (const [rawKey, value] of entries) {
    if (typeof rawKey !== 'string') throw refused(`metadata key ${describeValue(rawKey)} is not a string`);
    const key = rawKey.toLowerCase();
    if (!METADATA_KEY.test(key)) throw refused(`metadata key ${JSON.stringify(rawKey)} has characters outside 0-9 a-z _ . -`);
    if (key.startsWith(RESERVED_PREFIX)) {
      throw refused(`metadata key "${key}" is reserved: the kernel writes ${MetadataKeys.CALLER} and ${MetadataKeys.ATTEMPT}; ${RESERVED_PREFIX}* keys are the kernel's (set the caller with the client's "caller" option)`);
    }
    if (typeof value !== 'string') throw refused(`metadata "${key}" is ${describeValue(value)}; metadata values are strings (convert it, e.g. String(value))`);
    if (metadata.has(key)) throw refused(`metadata key "${key}" is given twice (keys are case-insensitive)`);
    metadata.set(key, value);
  }
  return metadata;
}
