import { definePlugin, invalidOption, type Plugin } from '@trellis/core';
import { P2cBalancer } from './p2c-balancer.js';
import { resolveP2cOptions, type P2cOptions } from './options.js';

export interface P2cPluginOptions extends P2cOptions {
  /**
   * `'default'` (the default): `client.use(p2c())` alone switches the client to P2C.
   * `'named-only'`: only register the name, so `loadBalancer: 'p2c'` has to ask for it.
   */
  readonly register?: 'default' | 'named-only';
  /** Receives each client's balancer as it is created, e.g. to chart `balancer.snapshot()`. */
  readonly onBalancer?: (balancer: P2cBalancer) => void;
}

export interface P2cPlugin extends Plugin {
  /** The balancers of the clients this plugin is set up on and that are not closed yet. */
  balancers(): readonly P2cBalancer[];
}

/**
 * The plugin form of P2C. Each client gets one balancer, created on first use and shared between the
 * `'p2c'` name and the default slot; it runs on the client's clock.
 */
export function p2c(options: P2cPluginOptions = {}): P2cPlugin {
  const { register = 'default', onBalancer, ...balancerOptions } = options;
  // Fail at p2c(), where the mistake is, rather than at a client's first call.
  resolveP2cOptions(balancerOptions);
  if (register !== 'default' && register !== 'named-only') throw invalidOption('register', register, "'default' or 'named-only'");
  if (onBalancer !== undefined && typeof onBalancer !== 'function') throw invalidOption('onBalancer', onBalancer, 'a function (balancer) => void');
  const live = new Set<P2cBalancer>();
  return definePlugin({
    meta: { name: '@trellis/lb-p2c', kernel: '^0.1.0' },
    balancers: () => [...live],
    setupClient(ctx) {
      let balancer: P2cBalancer | undefined;
      const get = (): P2cBalancer => {
        if (balancer === undefined) {
          balancer = new P2cBalancer({ clock: ctx.clock, ...balancerOptions });
          live.add(balancer);
          onBalancer?.(balancer);
        }
        return balancer;
      };
      ctx.addLoadBalancer('p2c', get);
      if (register !== 'named-only') ctx.setLoadBalancer(get());
      ctx.onClose(() => {
        if (balancer !== undefined) live.delete(balancer);
      });
    },
  });
}
