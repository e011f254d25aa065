import type { Code, RpcError } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { DEFAULT_AUTO_LIMITER_SETTINGS, type AutoLimiterSettings } from './auto-concurrency-limiter.js';
import { parseCodes } from './failure-codes.js';
import {
  checkKeys, integerInRange, invalid, isObject, nonNegativeNumber, positiveNumber, ratio, type Source,
} from './validate.js';

/** A token bucket: `qps` calls per second on average, up to `burst` at once (default qps / 10, at least 1). */
export interface RateLimit {
  readonly qps: number;
  readonly burst?: number;
}

/**
 * A fixed maximum of in-flight calls, `'auto'` for brpc's adaptive limiter with its defaults, or
 * `{ algorithm: 'auto', …tuning }`.
 */
export type ConcurrencySetting = number | 'auto' | ({ readonly algorithm: 'auto' } & Partial<AutoLimiterSettings>);

/** The limits of one service, or of one method (they add up: a call must pass both). */
export interface LimitRule {
  /** Token bucket over all callers. */
  readonly qps?: number;
  readonly burst?: number;
  /** A bucket of its own for each caller (identified by metadata, `trellis-caller` by default). */
  readonly perCaller?: RateLimit;
  /** Buckets for named callers, instead of `perCaller`'s. */
  readonly callers?: Readonly<Record<string, RateLimit>>;
  readonly maxConcurrency?: ConcurrencySetting;
}

export interface ServiceLimitRule extends LimitRule {
  /** Limits of single methods, by .proto name (`Echo`). */
  readonly methods?: Readonly<Record<string, LimitRule>>;
}

export interface LimiterOptions {
  /** Rules by fully qualified service name; `'*'` applies to services without their own. */
  readonly services?: Readonly<Record<string, ServiceLimitRule>>;
  /** Metadata key that identifies the caller for `perCaller` and `callers`. Default `trellis-caller`. */
  readonly callerKey?: string;
  /** Per-caller buckets kept per rule; beyond it, the oldest full ones are dropped. Default 10 000. */
  readonly maxCallers?: number;
  /** Errors the adaptive limiter counts as failures (punished latency). Default as the breaker's. */
  readonly failureCodes?: readonly (Code | keyof typeof Code | string)[];
  readonly isFailure?: (error: RpcError) => boolean;
  /** Monotonic ms. Default: the server's clock. */
  readonly clock?: Clock;
  /** Watch each service's live `limits` document (default true), or a document of this name. */
  readonly config?: boolean | string;
  /** Where a rejected live document is reported. Default: a process warning. */
  readonly onError?: (error: Error) => void;
  /** Uniform in [0, 1): spreads the adaptive limiter's re-measurements. Default Math.random. */
  readonly random?: () => number;
}

/** A rule as a live document may write it: `null` removes what the code set. */
export type LimitRuleOverlay = { readonly [K in keyof LimitRule]?: LimitRule[K] | null };
export interface ServiceLimitOverlay extends LimitRuleOverlay {
  readonly methods?: Readonly<Record<string, LimitRuleOverlay | null>> | null;
}

const RULE_KEYS = ['qps', 'burst', 'perCaller', 'callers', 'maxConcurrency'];
const AUTO_KEYS = ['algorithm', ...Object.keys(DEFAULT_AUTO_LIMITER_SETTINGS)];
const OPTION_KEYS = ['services', 'callerKey', 'maxCallers', 'failureCodes', 'isFailure', 'clock', 'config', 'onError', 'random'];

export function defaultBurst(qps: number): number {
  return Math.max(1, Math.ceil(qps / 10));
}

function validateRate(source: Source, name: string, value: unknown): void {
  if (!isObject(value)) throw invalid(source, name, value, 'an object { qps, burst? }');
  checkKeys(source, `${name}.`, value, ['qps', 'burst']);
  positiveNumber(source, `${name}.qps`, value.qps);
  if (value.burst !== undefined) integerInRange(source, `${name}.burst`, value.burst, 1, 1e9);
}

function validateAuto(source: Source, name: string, value: Record<string, unknown>): void {
  checkKeys(source, `${name}.`, value, AUTO_KEYS);
  if (value.algorithm !== 'auto') throw invalid(source, `${name}.algorithm`, value.algorithm, "'auto'");
  const at = (key: string) => `${name}.${key}`;
  if (value.alpha !== undefined) nonNegativeNumber(source, at('alpha'), value.alpha);
  if (value.initialMaxConcurrency !== undefined) integerInRange(source, at('initialMaxConcurrency'), value.initialMaxConcurrency, 1, 1e9);
  if (value.minConcurrency !== undefined) integerInRange(source, at('minConcurrency'), value.minConcurrency, 1, 1e9);
  if (value.sampleWindowMs !== undefined) positiveNumber(source, at('sampleWindowMs'), value.sampleWindowMs);
  if (value.minSamples !== undefined) integerInRange(source, at('minSamples'), value.minSamples, 1, 1e9);
  if (value.maxSamples !== undefined) integerInRange(source, at('maxSamples'), value.maxSamples, 1, 1e9);
  if (value.samplingIntervalMs !== undefined) nonNegativeNumber(source, at('samplingIntervalMs'), value.samplingIntervalMs);
  if (value.remeasureIntervalMs !== undefined) positiveNumber(source, at('remeasureIntervalMs'), value.remeasureIntervalMs);
  if (value.reduceRatio !== undefined) ratio(source, at('reduceRatio'), value.reduceRatio);
  if (value.emaFactor !== undefined) ratio(source, at('emaFactor'), value.emaFactor);
  if (value.failPunishRatio !== undefined) nonNegativeNumber(source, at('failPunishRatio'), value.failPunishRatio);
  const minSamples = (value.minSamples as number | undefined) ?? DEFAULT_AUTO_LIMITER_SETTINGS.minSamples;
  const maxSamples = (value.maxSamples as number | undefined) ?? DEFAULT_AUTO_LIMITER_SETTINGS.maxSamples;
  if (maxSamples < minSamples) throw invalid(source, at('maxSamples'), maxSamples, `a number ≥ minSamples (${minSamples})`);
}

/** Checks one rule; `overlay` allows the `null`s a live document uses to remove a limit. */
export function validateRule(source: Source, prefix: string, value: unknown, overlay: boolean, service: boolean): void {
  const name = prefix === '' ? '(root)' : prefix.slice(0, -1);
  if (!isObject(value)) throw invalid(source, name, value, 'an object of limits, e.g. { "qps": 1000 }');
  checkKeys(source, prefix, value, service ? [...RULE_KEYS, 'methods'] : RULE_KEYS);
  const present = (key: string) => value[key] !== undefined && !(overlay && value[key] === null);
  if (present('qps')) positiveNumber(source, `${prefix}qps`, value.qps);
  if (present('burst')) {
    integerInRange(source, `${prefix}burst`, value.burst, 1, 1e9);
    if (!overlay && value.qps === undefined) throw invalid(source, `${prefix}burst`, value.burst, `"${prefix}qps" alongside it (burst is the size of the qps bucket)`);
  }
  if (present('perCaller')) validateRate(source, `${prefix}perCaller`, value.perCaller);
  if (present('callers')) {
    if (!isObject(value.callers)) throw invalid(source, `${prefix}callers`, value.callers, 'an object keyed by caller name');
    for (const [caller, rate] of Object.entries(value.callers)) validateRate(source, `${prefix}callers.${caller}`, rate);
  }
  if (present('maxConcurrency')) {
    const setting = value.maxConcurrency;
    if (isObject(setting)) validateAuto(source, `${prefix}maxConcurrency`, setting);
    else if (setting !== 'auto') integerInRange(source, `${prefix}maxConcurrency`, setting, 1, 1e9);
  }
  if (service && present('methods')) {
    if (!isObject(value.methods)) throw invalid(source, `${prefix}methods`, value.methods, 'an object keyed by method name');
    for (const [method, rule] of Object.entries(value.methods)) {
      if (overlay && rule === null) continue;
      validateRule(source, `${prefix}methods.${method}.`, rule, overlay, false);
    }
  }
}

export function validateLimiterOptions(options: LimiterOptions): void {
  const source = 'limiter option';
  if (!isObject(options)) throw invalid(source, '(root)', options, 'an object of limiter options');
  checkKeys(source, '', options as Record<string, unknown>, OPTION_KEYS);
  if (options.services !== undefined) {
    if (!isObject(options.services)) throw invalid(source, 'services', options.services, 'an object keyed by service name, e.g. { "helloworld.Greeter": { "qps": 100 } }');
    for (const [name, rule] of Object.entries(options.services)) validateRule(source, `services.${name}.`, rule, false, true);
  }
  if (options.callerKey !== undefined && (typeof options.callerKey !== 'string' || !/^[a-z0-9_.-]+$/.test(options.callerKey))) {
    throw invalid(source, 'callerKey', options.callerKey, 'a lower-case metadata key such as "trellis-caller"');
  }
  if (options.maxCallers !== undefined) integerInRange(source, 'maxCallers', options.maxCallers, 1, 1e7);
  if (options.failureCodes !== undefined) {
    parseCodes('failureCodes', options.failureCodes, (name, bad, expected) => invalid(source, name, bad, expected));
  }
  if (options.isFailure !== undefined && typeof options.isFailure !== 'function') throw invalid(source, 'isFailure', options.isFailure, 'a function (error) => boolean');
  if (options.isFailure !== undefined && options.failureCodes !== undefined) throw invalid(source, 'isFailure', 'a function', 'either isFailure or failureCodes, not both');
  if (options.clock !== undefined && typeof (options.clock as Partial<Clock> | undefined)?.now !== 'function') throw invalid(source, 'clock', options.clock, 'an object with now(): number (monotonic ms)');
  if (options.config !== undefined && typeof options.config !== 'boolean' && !(typeof options.config === 'string' && options.config !== '')) {
    throw invalid(source, 'config', options.config, 'true, false, or the name of the document to watch');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalid(source, 'onError', options.onError, 'a function');
  if (options.random !== undefined && typeof options.random !== 'function') throw invalid(source, 'random', options.random, 'a function returning [0, 1)');
}

function mergeFields(base: LimitRule | undefined, overlay: LimitRuleOverlay): LimitRule {
  const merged: Record<string, unknown> = { ...base };
  for (const key of RULE_KEYS) {
    const value = (overlay as Record<string, unknown>)[key];
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  return merged as LimitRule;
}

/** A live document over the code's rule: field by field, method by method; `null` removes. */
export function mergeServiceRule(base: ServiceLimitRule | undefined, overlay: ServiceLimitOverlay): ServiceLimitRule {
  const merged = mergeFields(base, overlay) as { -readonly [K in keyof ServiceLimitRule]: ServiceLimitRule[K] };
  delete merged.methods;
  if (overlay.methods === null) return merged;
  const methods: Record<string, LimitRule> = { ...base?.methods };
  for (const [name, rule] of Object.entries(overlay.methods ?? {})) {
    if (rule === null) delete methods[name];
    else methods[name] = mergeFields(methods[name], rule);
  }
  if (Object.keys(methods).length > 0) merged.methods = methods;
  return merged;
}

export function autoSettings(setting: ConcurrencySetting): AutoLimiterSettings | undefined {
  if (setting === 'auto') return DEFAULT_AUTO_LIMITER_SETTINGS;
  if (typeof setting === 'object') {
    const { algorithm: _algorithm, ...tuning } = setting;
    return { ...DEFAULT_AUTO_LIMITER_SETTINGS, ...tuning };
  }
  return undefined;
}
