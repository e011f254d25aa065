import {
  failurePredicate, isFailure as isKernelFailure, parseCodes, type Code, type FailurePredicate, type Invocation,
} from '@trellis/core';
import { systemClock, type Clock } from '@trellis/core/spi';
import { Type, invalidOption, parseOptions } from '@trellis/core/toolkit';
import {
  DEFAULT_MAX_SAMPLE_AGE_MS,
  DEFAULT_MIN_QPS_RATIO,
  DEFAULT_MIN_WEIGHT,
  DEFAULT_PUNISH_ERROR_RATIO,
  DEFAULT_PUNISH_INFLIGHT_RATIO,
  DEFAULT_RATE_EXPONENT,
  DEFAULT_WINDOW_SIZE,
  MAX_WEIGHT,
} from './constants.js';

export interface LalbOptions {
  /** Monotonic ms. Default: core's `systemClock`; the plugin passes the client's clock. */
  readonly clock?: Clock;
  /**
   * Uniform in [0, 1). Default: a xoshiro128** generator of the balancer's own (FastRandom), seeded
   * from the system's random source; unlike `Math.random` it allocates nothing per pick. Tests pass
   * a seeded generator.
   */
  readonly random?: () => number;
  /** Completed calls remembered per endpoint (brpc `RECV_QUEUE_SIZE`). Default 128. */
  readonly windowSize?: number;
  /** Floor of every weight, in brpc's fixed-point units (brpc `--min_weight`). Default 1000. */
  readonly minWeight?: number;
  /** In-flight calls older than avg latency × this cut the weight (brpc `--punish_inflight_ratio`). Default 1.5. */
  readonly punishInflightRatio?: number;
  /** A failed call's latency counts this many times over (brpc `--punish_error_ratio`). Default 1.2. */
  readonly punishErrorRatio?: number;
  /**
   * Retries a call may get (brpc `max_retry`), for the error penalty: an error on an attempt that
   * retries may still fix costs latency × punishErrorRatio, the last one costs a whole timeout.
   * Set it to the retry plugin's maximum, or pass a function of the invocation. Default 0: every
   * error costs the attempt's timeout, as brpc does with `max_retry = 0`.
   */
  readonly maxRetry?: number | ((invocation: Invocation) => number);
  /**
   * Not in brpc: an endpoint's qps counts as at least this fraction of the mean qps per endpoint,
   * so endpoints LALB starved keep a probe share and it notices when they get faster. 0 keeps
   * brpc's floor of 1 qps. Default 0.05.
   */
  readonly minQpsRatio?: number;
  /**
   * Not in brpc: calls that ended longer ago than this (ms) leave the window, so an endpoint is not
   * judged by what it did long ago (e.g. the timeouts of a freeze it recovered from). `Infinity`
   * keeps brpc's window of the last `windowSize` calls however old. Default 5000.
   */
  readonly maxSampleAgeMs?: number;
  /**
   * Not in brpc: the rate term of the weight is mean × (qps / mean)^rateExponent, the endpoint's
   * rate relative to the mean rate per endpoint, compressed. Below 1, endpoints of equal latency
   * converge to an even split (brpc's 1 lets any split persist and drift), and the split between
   * unequal ones settles at qps ∝ latency^(−1 / (1 − rateExponent)). 1 = brpc. Default 0.8.
   */
  readonly rateExponent?: number;
  /**
   * Error codes that count as failures (a penalised sample), as Codes or names. Default: the
   * kernel's DEFAULT_FAILURE_CODES, the definition breaker, health and retry share. Any other error
   * that reached the handler (NOT_FOUND, INVALID_ARGUMENT…) is an answer: its latency is a served
   * call's latency. An error that never ran (refused, rate-limited) has no service time and is
   * penalised as brpc does.
   */
  readonly failureCodes?: readonly (Code | keyof typeof Code)[];
}

/**
 * Switches off Trellis's three additions (the relative rate floor, the sample age limit and the
 * compressed rate term): with these, LALB is brpc's algorithm exactly. `lalb({ ...BRPC_EXACT_OPTIONS })`.
 */
export const BRPC_EXACT_OPTIONS = Object.freeze({ minQpsRatio: 0, maxSampleAgeMs: Number.POSITIVE_INFINITY, rateExponent: 1 }) satisfies LalbOptions;

export interface ResolvedLalbOptions {
  readonly clock: Clock;
  /** Undefined: the balancer's own FastRandom. */
  readonly random: (() => number) | undefined;
  readonly windowSize: number;
  readonly minWeight: number;
  readonly punishInflightRatio: number;
  readonly punishErrorRatio: number;
  readonly maxRetry: (invocation: Invocation) => number;
  readonly minQpsRatio: number;
  readonly maxSampleAgeUs: number;
  readonly rateExponent: number;
  readonly isFailure: FailurePredicate;
}

const OWNER = 'lalb';

function invalid(name: string, value: unknown, expected: string): Error {
  return invalidOption(name, value, expected, OWNER);
}

const LalbOptionsSchema = Type.Object({
  clock: Type.Optional(Type.Object({ now: Type.Function([], Type.Number()) }, { description: 'an object with now(): number' })),
  random: Type.Optional(Type.Function([], Type.Number(), { description: 'a function returning [0, 1)' })),
  // Two slots are the least that can measure a rate between them.
  windowSize: Type.Optional(Type.Integer({ minimum: 2, maximum: 65536, description: 'an integer from 2 to 65536' })),
  minWeight: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WEIGHT, description: 'an integer from 1 to 2^42' })),
  punishInflightRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a finite number > 0 (brpc uses 1.5)' })),
  punishErrorRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a finite number > 0 (brpc uses 1.2)' })),
  maxRetry: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Function([], Type.Number())], {
    description: 'an integer ≥ 0 or a function of the invocation',
  })),
  minQpsRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'a number from 0 (brpc: 1 qps floor) to 1' })),
  // Under a second the window could not even measure a rate (brpc measures over ≥ 1 s or 128 calls).
  maxSampleAgeMs: Type.Optional(Type.Union([Type.Number({ minimum: 1000 }), Type.Literal(Number.POSITIVE_INFINITY)], {
    description: 'a number of ms ≥ 1000, or Infinity for no age limit (brpc)',
  })),
  rateExponent: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'a number from 0 (weights by latency alone) to 1 (brpc)' })),
  failureCodes: Type.Optional(Type.Unknown()),
}, { additionalProperties: false }); // a typo is refused, not ignored in silence (the README promises it)

/** Fills defaults and rejects bad values at construction, with a sentence saying what to pass. */
export function resolveLalbOptions(options: LalbOptions = {}): ResolvedLalbOptions {
  const {
    clock = systemClock,
    random,
    windowSize = DEFAULT_WINDOW_SIZE,
    minWeight = DEFAULT_MIN_WEIGHT,
    punishInflightRatio = DEFAULT_PUNISH_INFLIGHT_RATIO,
    punishErrorRatio = DEFAULT_PUNISH_ERROR_RATIO,
    maxRetry = 0,
    minQpsRatio = DEFAULT_MIN_QPS_RATIO,
    maxSampleAgeMs = DEFAULT_MAX_SAMPLE_AGE_MS,
    rateExponent = DEFAULT_RATE_EXPONENT,
    failureCodes,
  } = parseOptions(LalbOptionsSchema, options, OWNER) as LalbOptions;
  const maxRetryOf = typeof maxRetry === 'function' ? maxRetry : () => maxRetry;
  const isFailure = failureCodes === undefined ? isKernelFailure : failurePredicate(parseCodes('failureCodes', failureCodes, invalid));
  return {
    isFailure,
    clock,
    random,
    windowSize,
    minWeight,
    punishInflightRatio,
    punishErrorRatio,
    maxRetry: maxRetryOf,
    minQpsRatio,
    maxSampleAgeUs: maxSampleAgeMs * 1000,
    rateExponent,
  };
}
