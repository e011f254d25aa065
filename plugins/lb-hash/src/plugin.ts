import { definePlugin, invalidOption, type Plugin } from '@trellis/core';
import { ConsistentHashBalancer } from './consistent-hash-balancer.js';
import { resolveHashOptions, type ConsistentHashOptions } from './options.js';

export interface ConsistentHashPluginOptions extends ConsistentHashOptions {
  /**
   * `'default'` (the default): `client.use(consistentHash({ … }))` alone switches the client to it.
   * `'named-only'`: only register the name, so `loadBalancer: 'consistent-hash'` has to ask for it.
   */
  readonly register?: 'default' | 'named-only';
  /** Receives each client's balancer as it is created, e.g. to read `snapshot()`. */
  readonly onBalancer?: (balancer: ConsistentHashBalancer) => void;
}

export interface ConsistentHashPlugin extends Plugin {
  /** The balancers of the clients this plugin is set up on and that are not closed yet. */
  balancers(): readonly ConsistentHashBalancer[];
}

/**
 * The plugin form of consistent hashing. Each client gets one balancer, created on first use and
 * shared between the `'consistent-hash'` name and the default slot.
 */
export function consistentHash(options: ConsistentHashPluginOptions): ConsistentHashPlugin {
  const { register = 'default', onBalancer, ...balancerOptions } = options ?? ({} as ConsistentHashPluginOptions);
  // Fail at consistentHash(), where the mistake is, rather than at a client's first call.
  resolveHashOptions(balancerOptions);
  if (register !== 'default' && register !== 'named-only') throw invalidOption('register', register, "'default' or 'named-only'");
  if (onBalancer !== undefined && typeof onBalancer !== 'function') throw invalidOption('onBalancer', onBalancer, 'a function (balancer) => void');
  const live = new Set<ConsistentHashBalancer>();
  return definePlugin({
    meta: { name: '@trellis/lb-hash', kernel: '^0.1.0' },
    balancers: () => [...live],
    setupClient(ctx) {
      let balancer: ConsistentHashBalancer | undefined;
      const get = (): ConsistentHashBalancer => {
        if (balancer === undefined) {
          balancer = new ConsistentHashBalancer(balancerOptions);
          live.add(balancer);
          onBalancer?.(balancer);
        }
        return balancer;
      };
      ctx.addLoadBalancer('consistent-hash', get);
      if (register !== 'named-only') ctx.setLoadBalancer(get());
      ctx.onClose(() => {
        if (balancer !== undefined) live.delete(balancer);
      });
    },
  });
}
