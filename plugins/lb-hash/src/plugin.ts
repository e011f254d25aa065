import { balancerPlugin, type BalancerPlugin, type BalancerPluginOptions } from '@trellis/core/spi';
import { ConsistentHashBalancer } from './consistent-hash-balancer.js';
import { resolveHashOptions, type ConsistentHashOptions } from './options.js';

/** The balancer's options, plus `register` (`'default'` or `'named-only'`) and `onBalancer`. */
export interface ConsistentHashPluginOptions extends ConsistentHashOptions, BalancerPluginOptions<ConsistentHashBalancer> {}

export type ConsistentHashPlugin = BalancerPlugin<ConsistentHashBalancer>;

/**
 * The plugin form of consistent hashing (core's `balancerPlugin`): each client gets one balancer,
 * selectable as `'consistent-hash'` and by default the client's balancer.
 */
export function consistentHash(options: ConsistentHashPluginOptions): ConsistentHashPlugin {
  const { register, onBalancer, ...balancerOptions } = options ?? ({} as ConsistentHashPluginOptions);
  // Fail at consistentHash(), where the mistake is, rather than at a client's first call.
  resolveHashOptions(balancerOptions);
  return balancerPlugin(
    { name: '@trellis/lb-hash', kernel: '^0.1.0' },
    'consistent-hash',
    () => new ConsistentHashBalancer(balancerOptions),
    { register, onBalancer },
  );
}
