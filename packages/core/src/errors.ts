import type { Endpoint } from './endpoint.js';

/**
 * One error type for every failed call, with a code from one enum aligned with gRPC's status codes,
 * plus `mayHaveRun`: whether the request may have executed on the server. Retry decides on that flag
 * (a request that provably never ran is always safe to send elsewhere).
 */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export interface RpcErrorOptions {
  /** false when the request provably never reached a handler (refused, not connected, rate-limited). */
  readonly mayHaveRun?: boolean;
  readonly cause?: unknown;
  /** Trailing metadata sent by the server with the error. */
  readonly metadata?: ReadonlyMap<string, string>;
  /** The endpoint the failed attempt went to (the kernel sets it; give it when wrapping such an error). */
  readonly endpoint?: Endpoint;
}

export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: Code;
  readonly mayHaveRun: boolean;
  readonly metadata: ReadonlyMap<string, string> | undefined;
  /**
   * The endpoint whose attempt produced this error: the kernel sets it on every error that came back
   * from the endpoint the balancer picked (the transport, the server, an endpoint interceptor). It
   * stays undefined when nothing was picked — a router or the balancer refused, an interceptor
   * above the balancer failed the call — which is how retry tells "this endpoint failed" from
   * "there was nowhere to send it".
   */
  readonly endpoint: Endpoint | undefined;

  constructor(code: Code, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.mayHaveRun = options.mayHaveRun ?? true;
    this.metadata = options.metadata;
    this.endpoint = options.endpoint;
  }

  /** `UNAVAILABLE (14): circuit open for …` — code name first, so logs grep well. */
  override toString(): string {
    return `RpcError ${Code[this.code] ?? this.code}: ${this.message}`;
  }

  static from(error: unknown): RpcError {
    if (error instanceof RpcError) return error;
    if (error instanceof Error) return new RpcError(Code.UNKNOWN, error.message, { cause: error });
    return new RpcError(Code.UNKNOWN, String(error));
  }
}

/** Sets `error.endpoint` once (kernel only: the first endpoint an error came back from is the one to blame). */
export function blameEndpoint(error: RpcError, endpoint: Endpoint): void {
  if (error.endpoint === undefined) (error as { endpoint: Endpoint | undefined }).endpoint = endpoint;
}

/** The request never ran: safe to retry on any endpoint. */
export function notExecuted(code: Code, message: string, cause?: unknown): RpcError {
  return new RpcError(code, message, { mayHaveRun: false, cause });
}

/**
 * A configuration or start-up mistake. Thrown synchronously (or from start()) with a stable code and
 * a sentence saying what to change — the fastify style.
 */
export class TrellisError extends Error {
  override readonly name = 'TrellisError';
  readonly code: string;
  constructor(code: `ERR_${string}`, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export const ErrorCodes = {
  PLUGIN_INVALID: 'ERR_PLUGIN_INVALID',
  PLUGIN_KERNEL_MISMATCH: 'ERR_PLUGIN_KERNEL_MISMATCH',
  PLUGIN_MISSING_DEPENDENCY: 'ERR_PLUGIN_MISSING_DEPENDENCY',
  PLUGIN_DUPLICATE: 'ERR_PLUGIN_DUPLICATE',
  PLUGIN_AFTER_START: 'ERR_PLUGIN_AFTER_START',
  INVALID_OPTION: 'ERR_INVALID_OPTION',
  UNKNOWN_LOAD_BALANCER: 'ERR_UNKNOWN_LOAD_BALANCER',
  SERVICE_INVALID: 'ERR_SERVICE_INVALID',
  SERVICE_DUPLICATE: 'ERR_SERVICE_DUPLICATE',
  METHOD_NOT_IMPLEMENTED: 'ERR_METHOD_NOT_IMPLEMENTED',
  SERVER_STATE: 'ERR_SERVER_STATE',
  /** One of a server's listeners could not bind (the others were closed again); the cause says why. */
  LISTEN_FAILED: 'ERR_LISTEN_FAILED',
  /** A worker group could not get its workers ready (a crash loop) or a reload's new worker failed. */
  WORKERS_FAILED: 'ERR_WORKERS_FAILED',
  CLIENT_CLOSED: 'ERR_CLIENT_CLOSED',
  REGISTRY_UNREACHABLE: 'ERR_REGISTRY_UNREACHABLE',
  REFERENCE_UNRESOLVED: 'ERR_REFERENCE_UNRESOLVED',
  REFERENCE_CONFLICT: 'ERR_REFERENCE_CONFLICT',
} as const;

/**
 * A value as an error message shows it: JSON where that is faithful, else what JSON would hide
 * (NaN and Infinity print as themselves, not "null"; a function as "a function").
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return `${String(value)}${typeof value === 'bigint' ? 'n' : ''}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A plugin option (or document field) with a wrong value: carries the path, the expectation and the value. */
export class InvalidOptionError extends TrellisError {
  /** Where in the options: `decayMs`, `backoff.jitter`, `methods.SayHello.maxAttempts`. */
  readonly path: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(message: string, path: string, expected: string, received: unknown) {
    super(ErrorCodes.INVALID_OPTION, message);
    this.path = path;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * The one wording of a bad option: `<owner> option "<path>" is <value>; expected <expected>`
 * (`owner` names the plugin: `retry option "backoff.jitter" is 2; expected a number from 0 to 1`).
 * Used by the options schema layer (`parseOptions` in @trellis/core/toolkit) and by the cross-field
 * checks a schema cannot express.
 */
export function invalidOption(name: string, value: unknown, expected: string, owner?: string): InvalidOptionError {
  const prefix = owner === undefined ? '' : `${owner} `;
  return new InvalidOptionError(`${prefix}option "${name}" is ${describeValue(value)}; expected ${expected}`, name, expected, value);
}
