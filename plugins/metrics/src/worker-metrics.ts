import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { serveMetrics, type MetricsServer, type ServeMetricsOptions } from './http-endpoint.js';

/**
 * The registries this worker process's metrics plugins fill. prom-client answers the primary's
 * scrape in each cluster worker with one module-wide list (`AggregatorRegistry.setRegistries`), so
 * the list is kept here, where the plugins are set up, and handed to it whole on every change.
 */
const answered = new Set<Registry>();

/**
 * In a node:cluster worker (an `RpcServer({ workers })` worker): lets the primary's
 * `serveWorkerMetrics` collect `registry`. Returns the undo. Elsewhere it does nothing.
 */
export function answerPrimaryScrapes(registry: Registry): () => void {
  if (!cluster.isWorker) return () => {};
  // Constructing one is what installs prom-client's listener for the primary's requests (idempotent).
  new AggregatorRegistry();
  answered.add(registry);
  AggregatorRegistry.setRegistries([...answered]);
  return () => {
    answered.delete(registry);
    AggregatorRegistry.setRegistries([...answered]);
  };
}

/**
 * For the primary of `RpcServer({ workers })`: one Prometheus endpoint whose every scrape asks each
 * worker for its metrics over the cluster channel and merges them (prom-client's AggregatorRegistry:
 * counters and histograms summed, each family by its own `aggregator`). A worker that does not answer
 * within 5 s fails the scrape (HTTP 500) rather than silently undercounting.
 */
export function serveWorkerMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const aggregator = new AggregatorRegistry();
  return serveMetrics({ contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }, options);
}
