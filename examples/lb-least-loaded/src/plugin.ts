import { definePlugin, type Plugin } from '@trellis/core';
import { AttemptStats, type EndpointStats } from './attempt-stats.js';
import { LeastLoadedBalancer } from './least-loaded-balancer.js';

export interface LeastLoadedPlugin extends Plugin {
  /** Per-endpoint attempt statistics of the clients this plugin is on (through the attempt hook). */
  stats(): Record<string, EndpointStats>;
}

/**
 * `client.use(leastLoaded())` makes the balancer selectable as `loadBalancer: 'least-loaded'`;
 * `leastLoaded({ activate: true })` also switches the client to it. Either way the plugin watches
 * each attempt's outcome (`ctx.observe`) and reports it in `stats()`.
 */
export function leastLoaded(options: { activate?: boolean } = {}): LeastLoadedPlugin {
  const stats = new AttemptStats();
  const plugin = definePlugin({
    meta: { name: '@trellis/example-lb-least-loaded', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addLoadBalancer('least-loaded', () => new LeastLoadedBalancer());
      if (options.activate) ctx.setLoadBalancer(new LeastLoadedBalancer());
      ctx.observe(stats);
    },
  });
  return Object.assign(plugin, { stats: () => stats.snapshot() });
}
