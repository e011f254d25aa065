import { DEFAULT_FAILURE_CODES, ErrorCodes, TrellisError, parseCode, type Code } from '@trellis/core';
import { ExponentialBackoff, type BackoffOptions } from '@trellis/core/spi';

type Awaitable<T> = T | Promise<T>;

export interface AvailabilityOptions {
  /** Length of the sliding window (default 10 000 ms). */
  readonly windowMs?: number;
  /** Time buckets the window is cut into; it slides one bucket at a time (default 10). */
  readonly buckets?: number;
  /** Successes / calls below this marks the endpoint sub-healthy (default 0.8). */
  readonly threshold?: number;
  /** Fewer calls than this in the window never count as low availability (default 20). */
  readonly minCalls?: number;
  /**
   * Error codes that mean "this endpoint is in trouble". Default: the kernel's DEFAULT_FAILURE_CODES
   * (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS), the definition breaker, LALB and
   * retry share. Other codes are answers and count as served.
   */
  readonly codes?: readonly Code[];
}

export interface LoopStallOptions {
  /** How often the event loop is sampled (default 50 ms). */
  readonly sampleMs?: number;
  /** A sample this much later than scheduled is a stall of the consumer itself (default 100 ms). */
  readonly thresholdMs?: number;
}

export interface HttpEndpointOptions {
  /** Port of the HTTP health endpoint; 0 picks a free one (read it from `plugin.httpAddress()`). */
  readonly port: number;
  /** Interface to bind (default `0.0.0.0`). */
  readonly host?: string;
  /** Path that answers (default `/health`); others get 404. */
  readonly path?: string;
}

export interface HealthOptions {
  /** Consumer: heartbeat period per endpoint (default 1000 ms). */
  readonly intervalMs?: number;
  /** Consumer: how long a PING may wait for its PONG (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Consumer: heartbeats failed in a row that make a connected endpoint sub-healthy (default 3). */
  readonly failureThreshold?: number;
  /** Consumer: availability rule; `false` turns it off. */
  readonly availability?: AvailabilityOptions | false;
  /** Consumer: probe schedule of dead endpoints (default 100 ms doubling to 10 s, ±20 % jitter). */
  readonly redial?: BackoffOptions;
  /** Consumer: event-loop stall detection; `false` counts every failed heartbeat, even while this process was blocked. */
  readonly loopStall?: LoopStallOptions | false;
  /** Consumer: weight ramp of a newly started (or recovered) provider (default 60 000 ms; 0 turns it off). */
  readonly warmupMs?: number;
  /** Consumer: an endpoint that comes back from dead ramps up again like a new one (default true). */
  readonly rampOnRecovery?: boolean;
  /** Provider: the HTTP endpoint for orchestrators. Off unless given. */
  readonly http?: HttpEndpointOptions;
  /** Provider: checks that must all pass before the provider is registered. */
  readonly readiness?: readonly (() => Awaitable<unknown>)[];
  /** Provider: extra wait after listening and readiness, before registering (default 0). */
  readonly startDelayMs?: number;
}


export interface ResolvedAvailability {
  readonly windowMs: number;
  readonly buckets: number;
  readonly threshold: number;
  readonly minCalls: number;
  readonly codes: ReadonlySet<Code>;
}

export interface ResolvedHealthOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly availability: ResolvedAvailability | undefined;
  readonly redial: BackoffOptions;
  readonly loopStall: Required<LoopStallOptions> | undefined;
  readonly warmupMs: number;
  readonly rampOnRecovery: boolean;
  readonly http: Required<HttpEndpointOptions> | undefined;
  readonly readiness: readonly (() => Awaitable<unknown>)[];
  readonly startDelayMs: number;
}

function invalid(name: string, value: unknown, expected: string): TrellisError {
  const shown = typeof value === 'function' ? 'a function' : JSON.stringify(value);
  return new TrellisError(ErrorCodes.INVALID_OPTION, `health option "${name}" is ${shown}; expected ${expected}`);
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(name, value, 'a positive number of ms');
  return value;
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(name, value, 'a number of ms ≥ 0');
  return value;
}

function integer(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw invalid(name, value, `an integer ≥ ${min}`);
  return value;
}

function resolveAvailability(value: AvailabilityOptions | false | undefined): ResolvedAvailability | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw invalid('availability', value, 'an object like { threshold: 0.8, minCalls: 20 }, or false');
  }
  const options = value ?? {};
  const windowMs = positive('availability.windowMs', options.windowMs, 10_000);
  const buckets = integer('availability.buckets', options.buckets, 10, 1);
  if (buckets > 1000) throw invalid('availability.buckets', buckets, 'an integer from 1 to 1000');
  const threshold = options.threshold ?? 0.8;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) {
    throw invalid('availability.threshold', threshold, 'a ratio in (0, 1], e.g. 0.8');
  }
  const minCalls = integer('availability.minCalls', options.minCalls, 20, 1);
  // The kernel's one definition of failure, shared with breaker, LALB and retry.
  const codes = options.codes ?? DEFAULT_FAILURE_CODES;
  if (!Array.isArray(codes) || codes.some((c) => typeof c !== 'number' || parseCode(c) === undefined)) {
    throw invalid('availability.codes', codes, 'an array of error Codes such as [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]');
  }
  return { windowMs, buckets, threshold, minCalls, codes: new Set(codes) };
}

function resolveLoopStall(value: LoopStallOptions | false | undefined): Required<LoopStallOptions> | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw invalid('loopStall', value, 'an object like { sampleMs: 50, thresholdMs: 100 }, or false');
  }
  return {
    sampleMs: positive('loopStall.sampleMs', value?.sampleMs, 50),
    thresholdMs: positive('loopStall.thresholdMs', value?.thresholdMs, 100),
  };
}

function resolveHttp(value: HttpEndpointOptions | undefined): Required<HttpEndpointOptions> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw invalid('http', value, 'an object like { port: 8081 }');
  const { port, host = '0.0.0.0', path = '/health' } = value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid('http.port', port, 'an integer in 0..65535 (0 picks a free port)');
  }
  if (typeof host !== 'string' || host === '') throw invalid('http.host', host, 'an interface address such as "0.0.0.0"');
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid('http.path', path, 'a path starting with "/", e.g. "/health"');
  return { port, host, path };
}

/** Validates everything when `health()` is called, so a typo fails where it is written. */
export function resolveHealthOptions(options: HealthOptions = {}): ResolvedHealthOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object');
  const intervalMs = positive('intervalMs', options.intervalMs, 1000);
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 1000);
  const failureThreshold = integer('failureThreshold', options.failureThreshold, 3, 1);
  const redial: BackoffOptions = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2, ...options.redial };
  try {
    new ExponentialBackoff(redial);
  } catch (error) {
    throw invalid('redial', options.redial, `valid backoff settings (${(error as Error).message})`);
  }
  const readiness = options.readiness ?? [];
  if (!Array.isArray(readiness) || readiness.some((check) => typeof check !== 'function')) {
    throw invalid('readiness', readiness, 'an array of functions (sync or async) that throw when not ready');
  }
  const rampOnRecovery = options.rampOnRecovery ?? true;
  if (typeof rampOnRecovery !== 'boolean') throw invalid('rampOnRecovery', rampOnRecovery, 'true or false');
  return {
    intervalMs,
    timeoutMs,
    failureThreshold,
    availability: resolveAvailability(options.availability),
    redial,
    loopStall: resolveLoopStall(options.loopStall),
    warmupMs: nonNegative('warmupMs', options.warmupMs, 60_000),
    rampOnRecovery,
    http: resolveHttp(options.http),
    readiness,
    startDelayMs: nonNegative('startDelayMs', options.startDelayMs, 0),
  };
}
