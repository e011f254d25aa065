import { Code, DEFAULT_FAILURE_CODES, ErrorCodes, TrellisError, parseCode, type Invocation, type RpcError } from '@trellis/core';
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

export function invalid(name: string, value: unknown, expected: string): TrellisError {
  const shown = typeof value === 'function' ? 'a function' : JSON.stringify(value);
  return new TrellisError(ErrorCodes.INVALID_OPTION, `retry option "${name}" is ${shown}; expected ${expected}`);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalid(`${name}.${key}`, value[key], `one of the known keys of ${name}: ${known.join(', ')}`);
  }
}

function maxAttemptsOf(name: string, value: unknown): number {
  if (!(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_ATTEMPTS_LIMIT)) {
    throw invalid(name, value, `an integer from 1 to ${MAX_ATTEMPTS_LIMIT} (1 turns retry off)`);
  }
  return value as number;
}

/** Codes as `Code` values (numbers), checked by the kernel's one code parser. */
function codesOf(name: string, value: unknown): ReadonlySet<Code> {
  if (!Array.isArray(value) || !value.every((c) => typeof c === 'number' && parseCode(c) !== undefined)) {
    throw invalid(name, value, 'an array of Code values other than OK, e.g. [Code.UNAVAILABLE]');
  }
  return new Set(value as Code[]);
}

function timeoutOf(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!(isNumber(value) && value > 0)) throw invalid(name, value, 'a positive number of ms');
  return value;
}

export function resolveBudget(name: string, value: unknown, defaults: ResolvedBudget, ratioKey = 'ratio'): ResolvedBudget {
  if (!isObject(value)) throw invalid(name, value, '`false` or an object { ratio, minPerSecond, windowMs }');
  checkKeys(name, value, ['ratio', 'minPerSecond', 'windowMs']);
  const { ratio = defaults.ratio, minPerSecond = defaults.minPerSecond, windowMs = defaults.windowMs } = value;
  if (!(isNumber(ratio) && ratio >= 0 && ratio <= 100)) throw invalid(`${name}.${ratioKey}`, ratio, 'a number from 0 to 100 (0.1 = 10 % extra load)');
  if (!(isNumber(minPerSecond) && minPerSecond >= 0)) throw invalid(`${name}.minPerSecond`, minPerSecond, 'a number ≥ 0');
  if (!(isNumber(windowMs) && windowMs >= 100)) throw invalid(`${name}.windowMs`, windowMs, 'a number of ms ≥ 100');
  return { ratio, minPerSecond, windowMs };
}

function resolveHedge(name: string, value: unknown): ResolvedHedge | undefined {
  if (value === undefined || value === false) return undefined;
  if (!isObject(value)) throw invalid(name, value, '`false` or an object { delayMs, percentile, … }');
  checkKeys(name, value, ['delayMs', 'percentile', 'minSamples', 'maxRatio', 'minPerSecond', 'windowMs']);
  const { delayMs, percentile, minSamples = DEFAULT_MIN_SAMPLES, maxRatio, minPerSecond, windowMs } = value;
  if (delayMs === undefined && percentile === undefined) {
    throw invalid(name, value, 'delayMs (send a backup after this many ms) or percentile (after the method\'s pN latency), or both');
  }
  if (delayMs !== undefined && !(isNumber(delayMs) && delayMs >= 0)) throw invalid(`${name}.delayMs`, delayMs, 'a number of ms ≥ 0');
  if (percentile !== undefined && !(isNumber(percentile) && percentile > 0 && percentile < 100)) {
    throw invalid(`${name}.percentile`, percentile, 'a number between 0 and 100 exclusive, e.g. 95');
  }
  if (!(Number.isInteger(minSamples) && (minSamples as number) >= 1 && (minSamples as number) <= 10_000)) {
    throw invalid(`${name}.minSamples`, minSamples, 'an integer from 1 to 10000');
  }
  const budget = resolveBudget(name, { ratio: maxRatio, minPerSecond, windowMs }, DEFAULT_HEDGE_BUDGET, 'maxRatio');
  return { delayMs: delayMs as number | undefined, percentile: percentile as number | undefined, minSamples: minSamples as number, budget };
}

/** Rejects bad options when `retry()` is called, where the mistake is, with what to pass instead. */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  if (!isObject(options as unknown)) throw invalid('options', options, 'an object (or nothing for the defaults)');
  checkKeys('options', options as Record<string, unknown>, [
    'maxAttempts', 'retryOn', 'retryIf', 'attemptTimeoutMs', 'backoff', 'budget', 'hedge', 'fallbackToFailed', 'methods', 'onAttempt', 'random',
  ]);
  const { retryIf, onAttempt, random = Math.random, fallbackToFailed = false, methods = {} } = options;
  if (retryIf !== undefined && typeof retryIf !== 'function') throw invalid('retryIf', retryIf, 'a function (error, invocation) => boolean | undefined');
  if (onAttempt !== undefined && typeof onAttempt !== 'function') throw invalid('onAttempt', onAttempt, 'a function (record, invocation) => void');
  if (typeof random !== 'function') throw invalid('random', random, 'a function returning [0, 1)');
  if (typeof fallbackToFailed !== 'boolean') throw invalid('fallbackToFailed', fallbackToFailed, 'true or false');
  let backoff: Required<BackoffOptions> | undefined;
  if (options.backoff !== false) {
    const given = options.backoff ?? {};
    if (!isObject(given)) throw invalid('backoff', given, '`false` or { initialMs, maxMs, multiplier, jitter }');
    checkKeys('backoff', given, ['initialMs', 'maxMs', 'multiplier', 'jitter']);
    backoff = { ...DEFAULT_BACKOFF, ...given } as Required<BackoffOptions>;
    if (!(isNumber(backoff.initialMs) && backoff.initialMs > 0)) throw invalid('backoff.initialMs', backoff.initialMs, 'a positive number of ms (or backoff: false)');
    if (!(isNumber(backoff.maxMs) && backoff.maxMs >= backoff.initialMs)) throw invalid('backoff.maxMs', backoff.maxMs, `a number ≥ initialMs (${backoff.initialMs})`);
    if (!(isNumber(backoff.multiplier) && backoff.multiplier >= 1)) throw invalid('backoff.multiplier', backoff.multiplier, 'a number ≥ 1');
    if (!(isNumber(backoff.jitter) && backoff.jitter >= 0 && backoff.jitter <= 1)) throw invalid('backoff.jitter', backoff.jitter, 'a number from 0 to 1');
  }
  const budget = options.budget === false ? undefined : resolveBudget('budget', options.budget ?? {}, DEFAULT_BUDGET);
  const defaults: MethodPolicy = {
    idempotent: false,
    maxAttempts: maxAttemptsOf('maxAttempts', options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
    retryOn: codesOf('retryOn', options.retryOn ?? DEFAULT_RETRY_ON),
    attemptTimeoutMs: timeoutOf('attemptTimeoutMs', options.attemptTimeoutMs),
    hedge: resolveHedge('hedge', options.hedge),
  };
  if (!isObject(methods as unknown)) throw invalid('methods', methods, 'an object keyed by method name');
  for (const [name, value] of Object.entries(methods)) policyFor(defaults, name, value);
  return { defaults, methods, retryIf, backoff, budget, fallbackToFailed, onAttempt, random };
}

/** The plugin-wide policy with one method's overrides applied. */
export function policyFor(defaults: MethodPolicy, name: string, value: MethodRetryOptions | undefined): MethodPolicy {
  if (value === undefined) return defaults;
  const at = `methods.${name}`;
  if (!isObject(value)) throw invalid(at, value, 'an object { idempotent, maxAttempts, retryOn, attemptTimeoutMs, hedge }');
  checkKeys(at, value as Record<string, unknown>, ['idempotent', 'maxAttempts', 'retryOn', 'attemptTimeoutMs', 'hedge']);
  if (value.idempotent !== undefined && typeof value.idempotent !== 'boolean') throw invalid(`${at}.idempotent`, value.idempotent, 'true or false');
  return {
    idempotent: value.idempotent ?? defaults.idempotent,
    maxAttempts: value.maxAttempts === undefined ? defaults.maxAttempts : maxAttemptsOf(`${at}.maxAttempts`, value.maxAttempts),
    retryOn: value.retryOn === undefined ? defaults.retryOn : codesOf(`${at}.retryOn`, value.retryOn),
    attemptTimeoutMs: value.attemptTimeoutMs === undefined ? defaults.attemptTimeoutMs : timeoutOf(`${at}.attemptTimeoutMs`, value.attemptTimeoutMs),
    hedge: value.hedge === undefined ? defaults.hedge : resolveHedge(`${at}.hedge`, value.hedge),
  };
}
