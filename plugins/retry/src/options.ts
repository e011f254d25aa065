import { Code, DEFAULT_FAILURE_CODES, type Invocation, type RpcError, type TrellisError } from '@trellis/core';
import { Type, invalidOption, parseOptions, type TSchema } from '@trellis/core/toolkit';
import type { BackoffOptions } from '@trellis/core/spi';
import type { AttemptRecord } from './attempt-record.js';

/** Finagle's RetryBudget shape: retries may add `ratio` of recent calls, plus a small floor. */
export interface BudgetOptions {
  /** Retries allowed per call in the window (default 0.1 → at most 10 % extra load). */
  readonly ratio?: number;
  /** Retries always allowed per second, so quiet clients can still retry (default 10). */
  readonly minPerSecond?: number;
  /** How far back calls and retries are counted (default 10 000 ms). */
  readonly windowMs?: number;
}

/** Backup (hedged) requests, for idempotent methods only. */
export interface HedgeOptions {
  /** Send a backup after this many ms without an answer (also the delay until `percentile` is warm). */
  readonly delayMs?: number;
  /** Send a backup after this percentile (0–100, e.g. 95) of the method's recent latency. */
  readonly percentile?: number;
  /** Answers to measure before `percentile` is trusted (default 50). */
  readonly minSamples?: number;
  /** Backups allowed per call in the window (default 0.1 → at most 10 % extra load). */
  readonly maxRatio?: number;
  /** Backups always allowed per second (default 0: hedging only ever adds a ratio). */
  readonly minPerSecond?: number;
  /** Window of the backup budget (default 10 000 ms). */
  readonly windowMs?: number;
}

/** What may be set per method (by .proto or local name) on top of the plugin-wide options. */
export interface MethodRetryOptions {
  /** Declares the method idempotent (adds to the .proto option, client config and per-call flag). */
  readonly idempotent?: boolean;
  readonly maxAttempts?: number;
  readonly retryOn?: readonly Code[];
  readonly attemptTimeoutMs?: number;
  /** Backups for this method, or `false` to switch off plugin-wide hedging for it. */
  readonly hedge?: HedgeOptions | false;
}

export interface RetryOptions {
  /** Tries per call, the first one and backups included (default 3; 1 turns retry off). */
  readonly maxAttempts?: number;
  /**
   * Error codes worth another try. Default: the kernel's DEFAULT_FAILURE_CODES
   * (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS), the failures breaker, health
   * and LALB count; an answer (NOT_FOUND…) is never retried by default.
   */
  readonly retryOn?: readonly Code[];
  /**
   * Decides before `retryOn`: true = retryable, false = not, undefined = ask `retryOn`. Idempotency,
   * deadline, attempts and budget are still checked after it.
   */
  readonly retryIf?: (error: RpcError, invocation: Invocation) => boolean | undefined;
  /** Caps each attempt's share of the call's deadline; an attempt that times out is retried (default: none). */
  readonly attemptTimeoutMs?: number;
  /** Wait between attempts (default 10 ms doubling to 200 ms, ±50 % jitter); `false` for none. */
  readonly backoff?: BackoffOptions | false;
  /** Retry budget; `false` switches it off (not recommended). */
  readonly budget?: BudgetOptions | false;
  /** Backup requests for every idempotent method (default off). */
  readonly hedge?: HedgeOptions | false;
  /** When every endpoint already failed this call, try them again instead of giving up (default false). */
  readonly fallbackToFailed?: boolean;
  /** Per-method overrides, by .proto name (`SayHello`) or local name (`sayHello`). */
  readonly methods?: Readonly<Record<string, MethodRetryOptions>>;
  /** Called when each attempt ends (tracing, logs, tests). Must not throw. */
  readonly onAttempt?: (record: AttemptRecord, invocation: Invocation) => void;
  /** Uniform in [0, 1), for backoff jitter (default Math.random). */
  readonly random?: () => number;
}

export interface ResolvedBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

export interface ResolvedHedge {
  readonly delayMs: number | undefined;
  readonly percentile: number | undefined;
  readonly minSamples: number;
  readonly budget: ResolvedBudget;
}

/** The policy in force for one method. */
export interface MethodPolicy {
  readonly idempotent: boolean;
  readonly maxAttempts: number;
  readonly retryOn: ReadonlySet<Code>;
  readonly attemptTimeoutMs: number | undefined;
  readonly hedge: ResolvedHedge | undefined;
}

export interface ResolvedRetryOptions {
  readonly defaults: MethodPolicy;
  readonly methods: Readonly<Record<string, MethodRetryOptions>>;
  readonly retryIf: RetryOptions['retryIf'];
  readonly backoff: Required<BackoffOptions> | undefined;
  readonly budget: ResolvedBudget | undefined;
  readonly fallbackToFailed: boolean;
  readonly onAttempt: RetryOptions['onAttempt'];
  readonly random: () => number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
/**
 * The kernel's one definition of failure (DEFAULT_FAILURE_CODES, docs/architecture.md): retry tries
 * another endpoint after a failure — never after an answer such as NOT_FOUND — and only for
 * idempotent methods unless the request provably never ran.
 */
export const DEFAULT_RETRY_ON: readonly Code[] = DEFAULT_FAILURE_CODES;
export const DEFAULT_BACKOFF: Required<BackoffOptions> = Object.freeze({ initialMs: 10, maxMs: 200, multiplier: 2, jitter: 0.5 });
export const DEFAULT_BUDGET: ResolvedBudget = Object.freeze({ ratio: 0.1, minPerSecond: 10, windowMs: 10_000 });
export const DEFAULT_HEDGE_BUDGET: ResolvedBudget = Object.freeze({ ratio: 0.1, minPerSecond: 0, windowMs: 10_000 });
export const DEFAULT_MIN_SAMPLES = 50;
/** Upper bound of maxAttempts: more tries than this only hides an outage. */
export const MAX_ATTEMPTS_LIMIT = 10;

const OWNER = 'retry';

export function invalid(name: string, value: unknown, expected: string): TrellisError {
  return invalidOption(name, value, expected, OWNER);
}

const strict = { additionalProperties: false } as const;
const MaxAttempts = Type.Integer({ minimum: 1, maximum: MAX_ATTEMPTS_LIMIT, description: `an integer from 1 to ${MAX_ATTEMPTS_LIMIT} (1 turns retry off)` });
const Codes = Type.Array(Type.Integer({ minimum: Code.CANCELLED, maximum: Code.UNAUTHENTICATED }), {
  description: 'an array of Code values other than OK, e.g. [Code.UNAVAILABLE]',
});
const AttemptTimeout = Type.Number({ exclusiveMinimum: 0, description: 'a positive number of ms' });
const budgetFields = {
  minPerSecond: Type.Optional(Type.Number({ minimum: 0, description: 'a number ≥ 0' })),
  windowMs: Type.Optional(Type.Number({ minimum: 100, description: 'a number of ms ≥ 100' })),
};
const Ratio = Type.Number({ minimum: 0, maximum: 100, description: 'a number from 0 to 100 (0.1 = 10 % extra load)' });

function orFalse(schema: TSchema, description: string): TSchema {
  return Type.Union([Type.Literal(false), schema], { description });
}

const Hedge = orFalse(Type.Object({
  delayMs: Type.Optional(Type.Number({ minimum: 0, description: 'a number of ms ≥ 0' })),
  percentile: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 100, description: 'a number between 0 and 100 exclusive, e.g. 95' })),
  minSamples: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'an integer from 1 to 10000' })),
  maxRatio: Type.Optional(Ratio),
  ...budgetFields,
}, strict), '`false` or an object { delayMs, percentile, … }');

const MethodSchema = Type.Object({
  idempotent: Type.Optional(Type.Boolean()),
  maxAttempts: Type.Optional(MaxAttempts),
  retryOn: Type.Optional(Codes),
  attemptTimeoutMs: Type.Optional(AttemptTimeout),
  hedge: Type.Optional(Hedge),
}, strict);

const RetryOptionsSchema = Type.Object({
  maxAttempts: Type.Optional(MaxAttempts),
  retryOn: Type.Optional(Codes),
  retryIf: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function (error, invocation) => boolean | undefined' })),
  attemptTimeoutMs: Type.Optional(AttemptTimeout),
  backoff: Type.Optional(orFalse(Type.Object({
    initialMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a positive number of ms (or backoff: false)' })),
    maxMs: Type.Optional(Type.Number()),
    multiplier: Type.Optional(Type.Number({ minimum: 1, description: 'a number ≥ 1' })),
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'a number from 0 to 1' })),
  }, strict), '`false` or { initialMs, maxMs, multiplier, jitter }')),
  budget: Type.Optional(orFalse(Type.Object({ ratio: Type.Optional(Ratio), ...budgetFields }, strict), '`false` or an object { ratio, minPerSecond, windowMs }')),
  hedge: Type.Optional(Hedge),
  fallbackToFailed: Type.Optional(Type.Boolean()),
  methods: Type.Optional(Type.Record(Type.String(), MethodSchema, { description: 'an object keyed by method name' })),
  onAttempt: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function (record, invocation) => void' })),
  random: Type.Optional(Type.Function([], Type.Number(), { description: 'a function returning [0, 1)' })),
}, strict);

/** Fills a budget's defaults (the schema checked its fields). */
function resolveBudget(value: BudgetOptions, defaults: ResolvedBudget): ResolvedBudget {
  const { ratio = defaults.ratio, minPerSecond = defaults.minPerSecond, windowMs = defaults.windowMs } = value;
  return { ratio, minPerSecond, windowMs };
}

function resolveHedge(name: string, value: HedgeOptions | false | undefined): ResolvedHedge | undefined {
  if (value === undefined || value === false) return undefined;
  const { delayMs, percentile, minSamples = DEFAULT_MIN_SAMPLES, maxRatio, minPerSecond, windowMs } = value;
  if (delayMs === undefined && percentile === undefined) {
    throw invalid(name, value, 'delayMs (send a backup after this many ms) or percentile (after the method\'s pN latency), or both');
  }
  const budget = resolveBudget({ ratio: maxRatio, minPerSecond, windowMs }, DEFAULT_HEDGE_BUDGET);
  return { delayMs, percentile, minSamples, budget };
}

/** Rejects bad options when `retry()` is called, where the mistake is, with what to pass instead. */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  parseOptions(RetryOptionsSchema, options, OWNER);
  const { retryIf, onAttempt, random = Math.random, fallbackToFailed = false, methods = {} } = options;
  let backoff: Required<BackoffOptions> | undefined;
  if (options.backoff !== false) {
    backoff = { ...DEFAULT_BACKOFF, ...options.backoff } as Required<BackoffOptions>;
    if (!(Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.initialMs)) throw invalid('backoff.maxMs', backoff.maxMs, `a number ≥ initialMs (${backoff.initialMs})`);
  }
  const budget = options.budget === false ? undefined : resolveBudget(options.budget ?? {}, DEFAULT_BUDGET);
  const defaults: MethodPolicy = {
    idempotent: false,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryOn: new Set(options.retryOn ?? DEFAULT_RETRY_ON),
    attemptTimeoutMs: options.attemptTimeoutMs,
    hedge: resolveHedge('hedge', options.hedge),
  };
  for (const [name, value] of Object.entries(methods)) policyFor(defaults, name, value);
  return { defaults, methods, retryIf, backoff, budget, fallbackToFailed, onAttempt, random };
}

/** The plugin-wide policy with one method's overrides applied (the schema checked the values). */
export function policyFor(defaults: MethodPolicy, name: string, value: MethodRetryOptions | undefined): MethodPolicy {
  if (value === undefined) return defaults;
  return {
    idempotent: value.idempotent ?? defaults.idempotent,
    maxAttempts: value.maxAttempts ?? defaults.maxAttempts,
    retryOn: value.retryOn === undefined ? defaults.retryOn : new Set(value.retryOn),
    attemptTimeoutMs: value.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
    hedge: value.hedge === undefined ? defaults.hedge : resolveHedge(`methods.${name}.hedge`, value.hedge),
  };
}
