import { Code, DEFAULT_FAILURE_CODES, type TrellisError } from '@trellis/core';
import { ExponentialBackoff, type BackoffOptions } from '@trellis/core/spi';
import { BACKOFF_OPTIONS_SCHEMA, Type, invalidOption, parseOptions } from '@trellis/core/toolkit';

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

const OWNER = 'health';

function invalid(name: string, value: unknown, expected: string): TrellisError {
  return invalidOption(name, value, expected, OWNER);
}

const PositiveMs = Type.Number({ exclusiveMinimum: 0, description: 'a positive number of ms' });
const NonNegativeMs = Type.Number({ minimum: 0, description: 'a number of ms ≥ 0' });
const AtLeastOne = Type.Integer({ minimum: 1, description: 'an integer ≥ 1' });

const HttpSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, description: 'an integer in 0..65535 (0 picks a free port)' }),
  host: Type.Optional(Type.String({ minLength: 1, description: 'an interface address such as "0.0.0.0"' })),
  path: Type.Optional(Type.String({ pattern: '^/', description: 'a path starting with "/", e.g. "/health"' })),
}, { additionalProperties: false });

const HealthOptionsSchema = Type.Object({
  intervalMs: Type.Optional(PositiveMs),
  timeoutMs: Type.Optional(PositiveMs),
  failureThreshold: Type.Optional(AtLeastOne),
  availability: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    windowMs: Type.Optional(PositiveMs),
    buckets: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'an integer from 1 to 1000' })),
    threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'a ratio in (0, 1], e.g. 0.8' })),
    minCalls: Type.Optional(AtLeastOne),
    codes: Type.Optional(Type.Array(Type.Integer({ minimum: Code.CANCELLED, maximum: Code.UNAUTHENTICATED }), {
      description: 'an array of error Codes such as [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]',
    })),
  }, { additionalProperties: false })], { description: 'an object like { threshold: 0.8, minCalls: 20 }, or false' })),
  redial: Type.Optional(BACKOFF_OPTIONS_SCHEMA),
  loopStall: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    sampleMs: Type.Optional(PositiveMs),
    thresholdMs: Type.Optional(PositiveMs),
  }, { additionalProperties: false })], { description: 'an object like { sampleMs: 50, thresholdMs: 100 }, or false' })),
  warmupMs: Type.Optional(NonNegativeMs),
  rampOnRecovery: Type.Optional(Type.Boolean()),
  http: Type.Optional(HttpSchema),
  readiness: Type.Optional(Type.Array(Type.Function([], Type.Unknown()), { description: 'an array of functions (sync or async) that throw when not ready' })),
  startDelayMs: Type.Optional(NonNegativeMs),
}, { additionalProperties: false }); // a typo (`intervalMS`) is refused, not ignored in silence

function resolveAvailability(value: AvailabilityOptions | false | undefined): ResolvedAvailability | undefined {
  if (value === false) return undefined;
  const { windowMs = 10_000, buckets = 10, threshold = 0.8, minCalls = 20, codes = DEFAULT_FAILURE_CODES } = value ?? {};
  // The kernel's one definition of failure, shared with breaker, LALB and retry.
  return { windowMs, buckets, threshold, minCalls, codes: new Set(codes) };
}

function resolveLoopStall(value: LoopStallOptions | false | undefined): Required<LoopStallOptions> | undefined {
  if (value === false) return undefined;
  return { sampleMs: value?.sampleMs ?? 50, thresholdMs: value?.thresholdMs ?? 100 };
}

export function resolveHttp(value: HttpEndpointOptions | undefined): Required<HttpEndpointOptions> | undefined {
  if (value === undefined) return undefined;
  parseOptions(Type.Object({ http: HttpSchema }), { http: value }, OWNER);
  const { port, host = '0.0.0.0', path = '/health' } = value;
  return { port, host, path };
}

/** Validates everything when `health()` is called, so a typo fails where it is written. */
export function resolveHealthOptions(options: HealthOptions = {}): ResolvedHealthOptions {
  parseOptions(HealthOptionsSchema, options, OWNER);
  const redial: BackoffOptions = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2, ...options.redial };
  try {
    new ExponentialBackoff(redial);
  } catch (error) {
    throw invalid('redial', options.redial, `valid backoff settings (${(error as Error).message})`);
  }
  return {
    intervalMs: options.intervalMs ?? 1000,
    timeoutMs: options.timeoutMs ?? 1000,
    failureThreshold: options.failureThreshold ?? 3,
    availability: resolveAvailability(options.availability),
    redial,
    loopStall: resolveLoopStall(options.loopStall),
    warmupMs: options.warmupMs ?? 60_000,
    rampOnRecovery: options.rampOnRecovery ?? true,
    http: resolveHttp(options.http),
    readiness: options.readiness ?? [],
    startDelayMs: options.startDelayMs ?? 0,
  };
}
