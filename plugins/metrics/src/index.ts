export { metrics, type MetricsPlugin } from './plugin.js';
export { DEFAULT_BUCKETS, type MetricsOptions } from './options.js';
export type { MetricSource, SourceState, SourceStateChange, SourceValues } from './metric-source.js';
export { serveMetrics, type MetricsServer, type ServeMetricsOptions } from './http-endpoint.js';
export { serveWorkerMetrics } from './worker-metrics.js';
