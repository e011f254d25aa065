import { invalidMetricsOption, LABEL_NAME, METRIC_NAME } from './errors.js';

/** One series of a source: its labels (a value per `labelNames` entry) and its current state. */
export interface SourceState {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
}

export interface SourceStateChange {
  readonly labels: Readonly<Record<string, string>>;
  readonly from: string;
  readonly to: string;
}

/** One series of a source's numeric values; an undefined value is left out. */
export interface SourceValues {
  readonly labels: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, number | undefined>>;
}

/**
 * Another plugin's state — circuit breakers per endpoint, limiters per method — exported without
 * this package depending on that plugin. A source has states, numeric values, or both:
 *
 *   <prefix><name>_state{<labelNames…>, state}                  1 for the current state, 0 for the others
 *   <prefix><name>_transitions_total{<labelNames…>, from, to}   when onStateChange is given
 *   <prefix><name>_<valueName>{<labelNames…>}                    one gauge per valueNames entry
 *
 * `states()` and `values()` are read at every scrape, so the gauges are never stale.
 */
export interface MetricSource {
  /** Part of the metric names: `breaker` → `trellis_breaker_state`. */
  readonly name: string;
  /** HELP text of the state gauge. */
  readonly help?: string;
  /** Label names of every series, e.g. `['service', 'endpoint']` (not `state`, `from` or `to`). */
  readonly labelNames: readonly string[];
  /** Every state a series can be in, e.g. `['closed', 'open', 'half-open']`. */
  readonly stateNames?: readonly string[];
  /** The current state of every series. */
  states?(): Iterable<SourceState>;
  /** Called on every transition; returns a way to unsubscribe. */
  onStateChange?(listener: (change: SourceStateChange) => void): { dispose(): void } | (() => void);
  /** Names of numeric gauges, e.g. `['inflight', 'max_concurrency']`. */
  readonly valueNames?: readonly string[];
  /** The current values of every series. */
  values?(): Iterable<SourceValues>;
}

const RESERVED = new Set(['state', 'from', 'to']);

function isNameList(value: unknown, pattern: RegExp): value is readonly string[] {
  return Array.isArray(value) && value.length > 0 && value.every((n) => typeof n === 'string' && pattern.test(n)) && new Set(value).size === value.length;
}

export function checkMetricSource(source: unknown, index: number): MetricSource {
  const where = `sources[${index}]`;
  const s = source as Partial<MetricSource> | null;
  if (typeof s !== 'object' || s === null) throw invalidMetricsOption(where, source, 'a MetricSource object (see the README)');
  if (typeof s.name !== 'string' || !METRIC_NAME.test(s.name)) {
    throw invalidMetricsOption(`${where}.name`, s.name, 'a metric name part such as "breaker" (letters, digits, _)');
  }
  if (!Array.isArray(s.labelNames) || s.labelNames.some((l) => typeof l !== 'string' || !LABEL_NAME.test(l) || RESERVED.has(l))) {
    throw invalidMetricsOption(`${where}.labelNames`, s.labelNames, 'an array of label names such as ["service", "endpoint"] (state, from and to are taken)');
  }
  const hasStates = s.states !== undefined || s.stateNames !== undefined;
  const hasValues = s.values !== undefined || s.valueNames !== undefined;
  if (!hasStates && !hasValues) {
    throw invalidMetricsOption(where, source, 'states() with stateNames, values() with valueNames, or both');
  }
  if (hasStates) {
    if (!Array.isArray(s.stateNames) || s.stateNames.length === 0 || s.stateNames.some((n) => typeof n !== 'string')) {
      throw invalidMetricsOption(`${where}.stateNames`, s.stateNames, 'a non-empty array of state names such as ["closed", "open", "half-open"]');
    }
    if (typeof s.states !== 'function') throw invalidMetricsOption(`${where}.states`, s.states, 'a function returning the current { labels, state } of every series');
  }
  if (s.onStateChange !== undefined && (typeof s.onStateChange !== 'function' || !hasStates)) {
    throw invalidMetricsOption(`${where}.onStateChange`, s.onStateChange, 'a function(listener) returning a disposer, on a source with states()');
  }
  if (hasValues) {
    if (!isNameList(s.valueNames, LABEL_NAME) || s.valueNames.some((n) => n === 'state' || n === 'transitions_total')) {
      throw invalidMetricsOption(`${where}.valueNames`, s.valueNames, 'a non-empty array of distinct gauge names such as ["inflight", "max_concurrency"] (not state)');
    }
    if (typeof s.values !== 'function') throw invalidMetricsOption(`${where}.values`, s.values, 'a function returning the current { labels, values } of every series');
  }
  return s as MetricSource;
}
