import { definePlugin } from '@trellis/core';
import { LeastLoadedBalancer } from './least-loaded-balancer.js';

/**
 * `client.use(leastLoaded())` makes the balancer selectable as `loadBalancer: 'least-loaded'`;
 * `leastLoaded({ activate: true })` also switches the client to it.
 */
export function leastLoaded(options: { activate?: boolean } = {}) {
  return definePlugin({
    meta: { name: '@trellis/example-lb-least-loaded', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addLoadBalancer('least-loaded', () => new LeastLoadedBalancer());
      if (options.activate) ctx.setLoadBalancer(new LeastLoadedBalancer());
    },
  });
}
