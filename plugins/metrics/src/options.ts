import type { Registry } from 'prom-client';
import { Type, parseOptions } from '@trellis/core/toolkit';
import { invalidMetricsOption } from './errors.js';
import { checkMetricSource, type MetricSource } from './metric-source.js';

/** Seconds; from 0.5 ms (a loopback call) to 10 s (a deadline). */
export const DEFAULT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /**
   * Serve the Prometheus text format over HTTP on this port (0: any free port, read it back from
   * `plugin.port`). Without it nothing listens; read `plugin.text()` or the registry yourself.
   */
  readonly port?: number;
  /** Interface the HTTP endpoint binds (default `0.0.0.0`, where a Prometheus server can reach it). */
  readonly host?: string;
  /** Path of the HTTP endpoint (default `/metrics`). */
  readonly path?: string;
  /**
   * The prom-client Registry to fill. Default: a new one per plugin instance, so several clients
   * and servers in one process never collide. Pass one to share it (plugin instances sharing a
   * registry share the metrics too) or to serve it with your own HTTP server.
   */
  readonly registry?: Registry;
  /** Prefix of every metric name (default `trellis_`). */
  readonly prefix?: string;
  /** Latency histogram buckets in seconds, ascending (default 0.5 ms … 10 s). */
  readonly buckets?: readonly number[];
  /** Other plugins' states (breakers, limiters) to export; see MetricSource. */
  readonly sources?: readonly MetricSource[];
  /** Also export prom-client's process metrics (CPU, memory, event loop lag, GC). Default false. */
  readonly defaultMetrics?: boolean;
}

const BUCKETS_EXPECTED = 'a non-empty array of ascending positive numbers of seconds, such as [0.001, 0.01, 0.1, 1]';

export interface ResolvedMetricsOptions {
  readonly port: number | undefined;
  readonly host: string;
  readonly path: string;
  readonly registry: Registry | undefined;
  readonly prefix: string;
  readonly buckets: readonly number[];
  readonly sources: readonly MetricSource[];
  readonly defaultMetrics: boolean;
}

function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Registry> | null;
  return typeof r === 'object' && r !== null && typeof r.metrics === 'function' && typeof r.registerMetric === 'function' && typeof r.getSingleMetric === 'function';
}

// The HTTP endpoint's host and path: the same rules in metrics() and serveMetrics().
const HOST = Type.Optional(Type.String({ minLength: 1, description: 'an interface address such as "0.0.0.0" or "127.0.0.1"' }));
const PATH = Type.Optional(Type.String({ pattern: '^/[^?#\\s]*$', description: 'a URL path starting with "/", such as "/metrics"' }));

/**
 * The options' shape on the project's one schema layer (`@trellis/core/toolkit`); what JSON Schema
 * cannot say (a prom-client Registry, ascending buckets, the sources' cross-field rules) is checked
 * after it, in `resolveMetricsOptions` and `checkMetricSource`.
 */
const MetricsOptionsSchema = Type.Object({
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'an integer in 0..65535 (0 picks a free port), or nothing to serve no HTTP endpoint' })),
  host: HOST,
  path: PATH,
  registry: Type.Optional(Type.Unknown()),
  // Prometheus' data model: letters, digits, "_" or ":", not starting with a digit.
  prefix: Type.Optional(Type.String({ pattern: '^([a-zA-Z_:][a-zA-Z0-9_:]*)?$', description: 'letters, digits, "_" or ":", not starting with a digit, such as "trellis_"' })),
  buckets: Type.Optional(Type.Array(Type.Number(), { minItems: 1, description: BUCKETS_EXPECTED })),
  sources: Type.Optional(Type.Array(Type.Unknown(), { description: 'an array of MetricSource objects' })),
  defaultMetrics: Type.Optional(Type.Boolean({ description: 'true or false' })),
}, { additionalProperties: false });

const ServeMetricsOptionsSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, description: 'an integer in 0..65535 (0 picks a free port)' }),
  host: HOST,
  path: PATH,
}, { additionalProperties: false });

/** Checks `serveMetrics` / `serveWorkerMetrics` options: a misspelt key is refused, not ignored. */
export function checkServeMetricsOptions(options: unknown): void {
  parseOptions(ServeMetricsOptionsSchema, options, 'serveMetrics');
}

/** Fills defaults and rejects bad values when `metrics()` is called. */
export function resolveMetricsOptions(options: MetricsOptions): ResolvedMetricsOptions {
  parseOptions(MetricsOptionsSchema, options, 'metrics');
  const { port, host = '0.0.0.0', path = '/metrics', registry, prefix = 'trellis_', buckets = DEFAULT_BUCKETS, sources = [], defaultMetrics = false } = options;
  if (registry !== undefined && !isRegistry(registry)) throw invalidMetricsOption('registry', registry, 'a prom-client Registry (new Registry() from prom-client)');
  if (buckets.some((b, i) => !(Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]!)))) {
    throw invalidMetricsOption('buckets', buckets, BUCKETS_EXPECTED);
  }
  const checked = sources.map((source, i) => checkMetricSource(source, i));
  const names = checked.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw invalidMetricsOption('sources', names, `distinct source names ("${dup}" appears twice)`);
  return { port, host, path, registry, prefix, buckets: [...buckets], sources: checked, defaultMetrics };
}
