import { definePlugin, type Plugin } from '@trellis/core';
import { Registry } from 'prom-client';
import { ClientMetrics } from './client-metrics.js';
import { serveMetrics, type MetricsServer } from './http-endpoint.js';
import { familiesFor } from './metric-families.js';
import { resolveMetricsOptions, type MetricsOptions } from './options.js';
import { ServerMetrics } from './server-metrics.js';
import { answerPrimaryScrapes } from './worker-metrics.js';
import { exportSource } from './source-metrics.js';

export interface MetricsPlugin extends Plugin {
  /** The registry this plugin fills (the `registry` option, or its own). */
  readonly registry: Registry;
  /** The exposition text, exactly what a scrape gets. */
  text(): Promise<string>;
  /** The Content-Type to serve `text()` with. */
  readonly contentType: string;
  /** The HTTP endpoint's port while it listens (with the `port` option). */
  readonly port: number | undefined;
  /** The HTTP endpoint's URL while it listens. */
  readonly url: string | undefined;
  /** Stops the HTTP endpoint and the state sources' subscriptions. */
  close(): Promise<void>;
}

/**
 * RED metrics for clients and servers in Prometheus form. The HTTP endpoint, when `port` is given,
 * starts with the first client or server this plugin is set up on (a port already taken fails that
 * start) and stops when the last of them closes.
 */
export function metrics(options: MetricsOptions = {}): MetricsPlugin {
  const resolved = resolveMetricsOptions(options);
  const registry = resolved.registry ?? new Registry();
  const families = familiesFor(registry, resolved.prefix, resolved.buckets);
  if (resolved.defaultMetrics) families.enableDefaultMetrics();
  const releases = resolved.sources.map((source) => exportSource(families, source));

  let users = 0;
  let server: MetricsServer | undefined;
  let starting: Promise<MetricsServer> | undefined;
  const startHttp = async (): Promise<void> => {
    users++;
    if (resolved.port === undefined || server !== undefined) return;
    starting ??= serveMetrics(registry, { port: resolved.port, host: resolved.host, path: resolved.path });
    try {
      server = await starting;
    } catch (error) {
      users--;
      throw error;
    } finally {
      starting = undefined;
    }
  };
  const stopHttp = async (): Promise<void> => {
    const running = server;
    server = undefined;
    await running?.close();
  };
  const release = async (): Promise<void> => {
    if (users > 0 && --users === 0) await stopHttp();
  };

  return definePlugin({
    meta: { name: '@trellis/metrics', kernel: '^0.1.0' },
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    get port() {
      return server?.port;
    },
    get url() {
      return server?.url;
    },
    async close() {
      for (const r of releases.splice(0)) r();
      users = 0;
      await stopHttp();
    },
    async setupClient(ctx) {
      await startHttp(); // first: when the port is taken, nothing else is left registered
      const view = new ClientMetrics(ctx.service.name, () => ctx.health, families.client());
      ctx.observe(view);
      let unwatch: (() => void) | undefined;
      const subscription = ctx.onEndpoints((endpoints) => {
        view.endpoints = endpoints;
        // The first list arrives after every plugin's setup, so the health view in force is final.
        unwatch ??= view.watchHealth(ctx.health);
      });
      families.clients.add(view);
      ctx.addInspector('@trellis/metrics', () => view.inspect());
      ctx.onClose(async () => {
        subscription.dispose();
        unwatch?.();
        families.clients.delete(view);
        await release();
      });
    },
    async setupServer(ctx) {
      await startHttp();
      const view = new ServerMetrics(families.server());
      ctx.observe(view.observer);
      ctx.addInspector('@trellis/metrics', () => view.inspect());
      families.servers.add(view);
      // In a worker of RpcServer({ workers }): the primary's serveWorkerMetrics collects this registry.
      const stopAnswering = answerPrimaryScrapes(registry);
      ctx.onClose(async () => {
        stopAnswering();
        families.servers.delete(view);
        await release();
      });
    },
  });
}
