import type { Code, RpcError } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { DEFAULT_AUTO_LIMITER_SETTINGS, type AutoLimiterSettings } from './auto-concurrency-limiter.js';
import { parseCodes } from './failure-codes.js';
import { Type, invalidOption, parseOptions, type TSchema } from '@trellis/core/toolkit';

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

const positive = () => Type.Number({ exclusiveMinimum: 0, description: 'a finite number > 0' });
const nonNegative = () => Type.Number({ minimum: 0, description: 'a finite number ≥ 0' });
const integer = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum, description: `an integer from ${minimum} to ${maximum}` });
const ratio = () => Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'a number in (0, 1], e.g. 0.5 for 50 %' });

const RATE_SCHEMA = Type.Object({ qps: positive(), burst: Type.Optional(integer(1, 1e9)) }, { additionalProperties: false });

const AUTO_SCHEMA = Type.Object({
  algorithm: Type.Literal('auto', { description: "'auto'" }),
  alpha: Type.Optional(nonNegative()),
  initialMaxConcurrency: Type.Optional(integer(1, 1e9)),
  minConcurrency: Type.Optional(integer(1, 1e9)),
  sampleWindowMs: Type.Optional(positive()),
  minSamples: Type.Optional(integer(1, 1e9)),
  maxSamples: Type.Optional(integer(1, 1e9)),
  samplingIntervalMs: Type.Optional(nonNegative()),
  remeasureIntervalMs: Type.Optional(positive()),
  reduceRatio: Type.Optional(ratio()),
  emaFactor: Type.Optional(ratio()),
  failPunishRatio: Type.Optional(nonNegative()),
}, { additionalProperties: false });

const CONCURRENCY_SCHEMA = Type.Union([integer(1, 1e9), Type.Literal('auto'), AUTO_SCHEMA], {
  description: 'an integer from 1 to 1000000000, "auto", or { "algorithm": "auto", …tuning }',
});

/** One rule's fields; in a live document (`overlay`) each may be `null` to remove what the code set. */
function ruleProperties(overlay: boolean) {
  const field = <S extends TSchema>(schema: S) => Type.Optional(overlay ? Type.Union([schema, Type.Null()]) : schema);
  return {
    qps: field(positive()),
    burst: field(integer(1, 1e9)),
    perCaller: field(RATE_SCHEMA),
    callers: field(Type.Record(Type.String(), RATE_SCHEMA, { description: 'an object keyed by caller name' })),
    maxConcurrency: field(CONCURRENCY_SCHEMA),
  };
}

function serviceRuleSchema(overlay: boolean) {
  const method = Type.Object(ruleProperties(overlay), { additionalProperties: false });
  const methods = Type.Record(Type.String(), overlay ? Type.Union([method, Type.Null()]) : method, { description: 'an object keyed by method name' });
  return Type.Object({
    ...ruleProperties(overlay),
    methods: Type.Optional(overlay ? Type.Union([methods, Type.Null()]) : methods),
  }, { additionalProperties: false });
}

/** A live `limits` document: one service rule in which `null` removes what the code set. */
export const LIMITS_DOCUMENT_SCHEMA = serviceRuleSchema(true);

const LIMITER_OPTIONS_SCHEMA = Type.Object({
  services: Type.Optional(Type.Record(Type.String(), serviceRuleSchema(false), {
    description: 'an object keyed by service name, e.g. { "helloworld.Greeter": { "qps": 100 } }',
  })),
  callerKey: Type.Optional(Type.String({ pattern: '^[a-z0-9_.-]+$', description: 'a lower-case metadata key such as "trellis-caller"' })),
  maxCallers: Type.Optional(integer(1, 1e7)),
  // Names are checked by the kernel's parseCodes (the one parser of status codes).
  failureCodes: Type.Optional(Type.Array(Type.Union([Type.Integer(), Type.String()]), {
    description: 'an array of status codes, e.g. ["UNAVAILABLE", "DEADLINE_EXCEEDED"] or [Code.UNAVAILABLE]',
  })),
  isFailure: Type.Optional(Type.Function([Type.Any()], Type.Boolean(), { description: 'a function (error) => boolean' })),
  clock: Type.Optional(Type.Object({ now: Type.Function([], Type.Number()) }, { description: 'an object with now(): number (monotonic ms)' })),
  config: Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1 })], { description: 'true, false, or the name of the document to watch' })),
  onError: Type.Optional(Type.Function([Type.Any()], Type.Void(), { description: 'a function' })),
  random: Type.Optional(Type.Function([], Type.Number(), { description: 'a function returning [0, 1)' })),
}, { additionalProperties: false });

export function defaultBurst(qps: number): number {
  return Math.max(1, Math.ceil(qps / 10));
}

/**
 * What the schema cannot say about one rule: `burst` needs `qps` (code only: a document may set
 * either over the code's), and an adaptive limiter's maxSamples ≥ minSamples.
 */
function checkRule(prefix: string, rule: Record<string, unknown>, overlay: boolean): void {
  if (!overlay && rule.burst !== undefined && rule.qps === undefined) {
    throw invalidOption(`${prefix}burst`, rule.burst, `"${prefix}qps" alongside it (burst is the size of the qps bucket)`, 'limiter');
  }
  const setting = rule.maxConcurrency;
  if (typeof setting === 'object' && setting !== null) {
    const auto = setting as Partial<AutoLimiterSettings>;
    const minSamples = auto.minSamples ?? DEFAULT_AUTO_LIMITER_SETTINGS.minSamples;
    const maxSamples = auto.maxSamples ?? DEFAULT_AUTO_LIMITER_SETTINGS.maxSamples;
    if (maxSamples < minSamples) throw invalidOption(`${prefix}maxConcurrency.maxSamples`, maxSamples, `a number ≥ minSamples (${minSamples})`, 'limiter');
  }
}

function checkServiceRule(prefix: string, rule: ServiceLimitOverlay, overlay: boolean): void {
  checkRule(prefix, rule as Record<string, unknown>, overlay);
  for (const [method, methodRule] of Object.entries(rule.methods ?? {})) {
    if (methodRule !== null) checkRule(`${prefix}methods.${method}.`, methodRule as Record<string, unknown>, overlay);
  }
}

/**
 * What LIMITS_DOCUMENT_SCHEMA cannot say about a live `limits` document (maxSamples ≥ minSamples);
 * throws an InvalidOptionError naming the setting.
 */
export function checkLimitsOverlay(overlay: ServiceLimitOverlay): void {
  checkServiceRule('', overlay, true);
}

export function validateLimiterOptions(options: LimiterOptions): void {
  const parsed = parseOptions(LIMITER_OPTIONS_SCHEMA, options, 'limiter');
  for (const [name, rule] of Object.entries(parsed.services ?? {})) checkServiceRule(`services.${name}.`, rule as ServiceLimitOverlay, false);
  if (parsed.failureCodes !== undefined) {
    parseCodes('failureCodes', parsed.failureCodes, (name, bad, expected) => invalidOption(name, bad, expected, 'limiter'));
  }
  if (parsed.isFailure !== undefined && parsed.failureCodes !== undefined) {
    throw invalidOption('isFailure', 'a function', 'either isFailure or failureCodes, not both', 'limiter');
  }
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
