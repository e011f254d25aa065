import type { Code, RpcError } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { DEFAULT_FAILURE_CODES, parseCodes } from './failure-codes.js';
import type { BreakerEvent } from './events.js';
import { Type, invalidOption, parseOptions } from '@trellis/core/toolkit';

/** How one circuit decides; every field has a default (see DEFAULT_CIRCUIT_SETTINGS). */
export interface CircuitSettings {
  /** Length of the sliding window the ratios are computed over. */
  readonly windowMs: number;
  /** Time buckets the window is made of (it slides one bucket at a time). */
  readonly buckets: number;
  /** Calls the window must hold before a ratio can open the circuit. */
  readonly minCalls: number;
  /** Opens when failures / calls ≥ this. */
  readonly errorRatio: number;
  /** A call that takes at least this long is slow; 0 turns slow-call detection off. */
  readonly slowCallMs: number;
  /** Opens when slow calls / calls ≥ this (only with slowCallMs > 0). */
  readonly slowCallRatio: number;
  /** First cool-down before half-open (brpc: 100 ms). */
  readonly coolDownMs: number;
  /** The cool-down doubles on each failed recovery up to this (brpc: 30 s). */
  readonly maxCoolDownMs: number;
  /** Probe calls let through when half-open; this many successes close the circuit. */
  readonly halfOpenProbes: number;
  /**
   * Opens after this many failures in a row, whatever the window holds; 0 turns it off. Default 5 for
   * endpoint circuits (Finagle's failure accrual and Envoy's outlier detection use 5), 0 for method
   * circuits (see DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES).
   */
  readonly consecutiveFailures: number;
}

export const DEFAULT_CIRCUIT_SETTINGS: CircuitSettings = Object.freeze({
  windowMs: 10_000,
  buckets: 10,
  minCalls: 20,
  errorRatio: 0.5,
  slowCallMs: 0,
  slowCallRatio: 0.8,
  coolDownMs: 100,
  maxCoolDownMs: 30_000,
  halfOpenProbes: 3,
  consecutiveFailures: 0,
});

/**
 * The endpoint level's default `consecutiveFailures`. An endpoint that fails every call must leave
 * the rotation before a ratio could say so: with `minCalls` 20 it needs 20 calls of its own, and
 * with two providers the method's circuit would see 50 % failures (and open for every endpoint)
 * first. Failures in a row are one endpoint's signature: calls spread over healthy endpoints
 * interleave successes, so the method level leaves it off.
 */
export const DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES = 5;

const CIRCUIT_KEYS = Object.keys(DEFAULT_CIRCUIT_SETTINGS) as (keyof CircuitSettings)[];

/**
 * The data part of the breaker's settings: what code passes to `breaker()` and what a live
 * `breaker` document holds. Top-level circuit fields apply to both levels; `endpoint` and `method`
 * refine (or, with `false`, switch off) one level; `methods` refines one method.
 */
export interface BreakerSettings extends Partial<CircuitSettings> {
  /** `false` lets every call through and records nothing (an emergency switch). Default true. */
  readonly enabled?: boolean;
  /** Per-endpoint circuits (the balancer skips open endpoints). Default on. */
  readonly endpoint?: boolean | Partial<CircuitSettings>;
  /** Per-method (or per-service, see `scope`) circuits that fail fast. Default on. */
  readonly method?: boolean | Partial<CircuitSettings>;
  /** Key the fail-fast circuits by `method` (default) or by the whole `service`. */
  readonly scope?: 'method' | 'service';
  /** Per-method refinements of the method level, by .proto name (`Echo`); `false` exempts one. */
  readonly methods?: Readonly<Record<string, boolean | Partial<CircuitSettings>>>;
  /**
   * Error codes that count as failures, as numbers or names. Default: the kernel's
   * DEFAULT_FAILURE_CODES (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS), the one
   * definition health, LALB and retry share (docs/architecture.md).
   */
  readonly failureCodes?: readonly (Code | keyof typeof Code | string)[];
}

export interface BreakerOptions extends BreakerSettings {
  /** Decides which errors count, instead of `failureCodes` (CANCELLED is never counted). */
  readonly isFailure?: (error: RpcError) => boolean;
  /** Monotonic ms. Default: the client's clock. */
  readonly clock?: Clock;
  /**
   * Watch the live `breaker` document of the client's service in the registry (when the registry is
   * a ConfigSource). Default true; a string watches a document of that name instead.
   */
  readonly config?: boolean | string;
  /** Called on every state change of every circuit. */
  readonly onStateChange?: (event: BreakerEvent) => void;
  /** Where a rejected live document is reported. Default: a process warning. */
  readonly onError?: (error: Error) => void;
}

/** Settings with every default filled in and both levels worked out. */
export interface ResolvedBreakerSettings {
  readonly enabled: boolean;
  readonly scope: 'method' | 'service';
  /** undefined: the endpoint level is off. */
  readonly endpoint: CircuitSettings | undefined;
  /** The method level for a method name (or the service, with scope 'service'); undefined: off. */
  method(name: string): CircuitSettings | undefined;
  readonly failureCodes: readonly Code[];
}

const positive = (options: object = {}) => Type.Number({ exclusiveMinimum: 0, description: 'a finite number > 0', ...options });
const nonNegative = () => Type.Number({ minimum: 0, description: 'a finite number ≥ 0' });
const integer = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum, description: `an integer from ${minimum} to ${maximum}` });
const ratio = () => Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'a number in (0, 1], e.g. 0.5 for 50 %' });

/** The circuit fields, shared by the top level, `endpoint`, `method` and each of `methods`. */
const CIRCUIT_PROPERTIES = {
  windowMs: Type.Optional(positive()),
  buckets: Type.Optional(integer(1, 1000)),
  minCalls: Type.Optional(integer(1, 1e9)),
  errorRatio: Type.Optional(ratio()),
  slowCallMs: Type.Optional(nonNegative()),
  slowCallRatio: Type.Optional(ratio()),
  coolDownMs: Type.Optional(positive()),
  maxCoolDownMs: Type.Optional(positive()),
  halfOpenProbes: Type.Optional(integer(1, 1000)),
  consecutiveFailures: Type.Optional(integer(0, 1e9)),
};

const LEVEL_SCHEMA = Type.Union(
  [Type.Boolean(), Type.Object(CIRCUIT_PROPERTIES, { additionalProperties: false })],
  { description: 'true, false, or an object of circuit settings' },
);

const SETTINGS_PROPERTIES = {
  ...CIRCUIT_PROPERTIES,
  enabled: Type.Optional(Type.Boolean()),
  endpoint: Type.Optional(LEVEL_SCHEMA),
  method: Type.Optional(LEVEL_SCHEMA),
  scope: Type.Optional(Type.Union([Type.Literal('method'), Type.Literal('service')], { description: "'method' or 'service'" })),
  methods: Type.Optional(Type.Record(Type.String(), LEVEL_SCHEMA, { description: 'an object keyed by method name' })),
  // Names are checked by the kernel's parseCodes below (the one parser of status codes).
  failureCodes: Type.Optional(Type.Array(Type.Union([Type.Integer(), Type.String()]), {
    description: 'an array of status codes, e.g. ["UNAVAILABLE", "DEADLINE_EXCEEDED"] or [Code.UNAVAILABLE]',
  })),
};

/** A live `breaker` document: the data settings only. */
export const BREAKER_SETTINGS_SCHEMA = Type.Object(SETTINGS_PROPERTIES, { additionalProperties: false });

/** `breaker()`'s options: the settings plus what only code can pass. */
const BREAKER_OPTIONS_SCHEMA = Type.Object({
  ...SETTINGS_PROPERTIES,
  isFailure: Type.Optional(Type.Function([Type.Any()], Type.Boolean(), { description: 'a function (error) => boolean' })),
  clock: Type.Optional(Type.Object({ now: Type.Function([], Type.Number()) }, { description: 'an object with now(): number (monotonic ms)' })),
  config: Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1 })], { description: 'true, false, or the name of the document to watch' })),
  onStateChange: Type.Optional(Type.Function([Type.Any()], Type.Void(), { description: 'a function' })),
  onError: Type.Optional(Type.Function([Type.Any()], Type.Void(), { description: 'a function' })),
}, { additionalProperties: false });

/** Status code names to numbers (core's one parser); a bad name is an InvalidOptionError naming `failureCodes[i]`. */
function normalizeCodes(value: BreakerSettings): BreakerSettings {
  if (value.failureCodes === undefined) return value;
  const failureCodes = parseCodes('failureCodes', value.failureCodes, (name, bad, expected) => invalidOption(name, bad, expected, 'breaker'));
  return { ...value, failureCodes };
}

/** Checks `breaker()`'s options (ERR_INVALID_OPTION naming the option) and returns the settings with codes normalized. */
export function parseBreakerOptions(options: unknown): BreakerSettings {
  const parsed = parseOptions(BREAKER_OPTIONS_SCHEMA, options, 'breaker') as BreakerOptions;
  if (parsed.isFailure !== undefined && parsed.failureCodes !== undefined) {
    throw invalidOption('isFailure', 'a function', 'either isFailure or failureCodes, not both', 'breaker');
  }
  return normalizeCodes(parsed);
}

/**
 * A live `breaker` document (already checked against BREAKER_SETTINGS_SCHEMA by @trellis/rules) over
 * the code's settings, resolved: codes normalized, defaults filled, combinations such as coolDownMs >
 * maxCoolDownMs caught. Throws an InvalidOptionError naming the setting.
 */
export function resolveBreakerDocument(base: BreakerSettings, document: BreakerSettings): ResolvedBreakerSettings {
  return resolveBreakerSettings(mergeBreakerSettings(base, normalizeCodes(document)));
}

function mergeLevel<T extends object>(base: boolean | T | undefined, overlay: boolean | T | undefined): boolean | T | undefined {
  if (overlay === undefined) return base;
  if (typeof overlay === 'boolean' || base === undefined || typeof base === 'boolean') return overlay;
  return { ...base, ...overlay };
}

/** A live document over the code's settings, field by field; more specific fields still win. */
export function mergeBreakerSettings(base: BreakerSettings, overlay: BreakerSettings): BreakerSettings {
  let methods = base.methods;
  if (overlay.methods !== undefined) {
    const merged: Record<string, boolean | Partial<CircuitSettings>> = { ...base.methods };
    for (const [name, level] of Object.entries(overlay.methods)) merged[name] = mergeLevel(merged[name], level)!;
    methods = merged;
  }
  return {
    ...base,
    ...overlay,
    endpoint: mergeLevel(base.endpoint, overlay.endpoint),
    method: mergeLevel(base.method, overlay.method),
    methods,
  };
}

function pickCircuit(value: Partial<CircuitSettings>): Partial<CircuitSettings> {
  const picked: Record<string, unknown> = {};
  for (const key of CIRCUIT_KEYS) if (value[key] !== undefined) picked[key] = value[key];
  return picked as Partial<CircuitSettings>;
}

function complete(level: string, base: CircuitSettings, refinement: boolean | Partial<CircuitSettings> | undefined): CircuitSettings | undefined {
  if (refinement === false) return undefined;
  const settings = typeof refinement === 'object' ? { ...base, ...pickCircuit(refinement) } : base;
  if (settings.coolDownMs > settings.maxCoolDownMs) {
    throw invalidOption(`${level}maxCoolDownMs`, settings.maxCoolDownMs, `a number ≥ coolDownMs (${settings.coolDownMs})`, 'breaker');
  }
  if (settings.windowMs / settings.buckets < 1) {
    throw invalidOption(`${level}buckets`, settings.buckets, `at most windowMs (${settings.windowMs}) so that each bucket spans ≥ 1 ms`, 'breaker');
  }
  return Object.freeze(settings);
}

/** Fills defaults and works out each level; throws ERR_INVALID_OPTION on inconsistent values. */
export function resolveBreakerSettings(settings: BreakerSettings): ResolvedBreakerSettings {
  const given = pickCircuit(settings);
  const top = complete('', { ...DEFAULT_CIRCUIT_SETTINGS, ...given }, undefined)!;
  const endpointBase = given.consecutiveFailures === undefined ? { ...top, consecutiveFailures: DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES } : top;
  const endpoint = complete('endpoint.', endpointBase, settings.endpoint);
  const methodBase = complete('method.', top, settings.method);
  const scope = settings.scope ?? 'method';
  const perMethod = new Map<string, CircuitSettings | undefined>();
  if (scope === 'method') {
    for (const [name, refinement] of Object.entries(settings.methods ?? {})) {
      // `true` switches one method on even when the method level is off for the rest.
      perMethod.set(name, refinement === true ? methodBase ?? complete(`methods.${name}.`, top, {}) : complete(`methods.${name}.`, methodBase ?? top, refinement));
    }
  }
  return {
    enabled: settings.enabled ?? true,
    scope,
    endpoint,
    method: (name) => (perMethod.has(name) ? perMethod.get(name) : methodBase),
    failureCodes: (settings.failureCodes as Code[] | undefined) ?? DEFAULT_FAILURE_CODES,
  };
}
