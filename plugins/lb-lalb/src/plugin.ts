import { balancerPlugin, type BalancerPlugin, type BalancerPluginOptions } from '@trellis/core/spi';
import { LocalityAwareBalancer } from './locality-aware-balancer.js';
import { resolveLalbOptions, type LalbOptions } from './options.js';

/** LALB's options, plus `register` (`'default'` or `'named-only'`) and `onBalancer`. */
export interface LalbPluginOptions extends LalbOptions, BalancerPluginOptions<LocalityAwareBalancer> {}

export type LalbPlugin = BalancerPlugin<LocalityAwareBalancer>;

/**
 * The plugin form of LALB (core's `balancerPlugin`): each client gets one balancer, on the client's
 * clock, selectable as `'lalb'` and by default the client's balancer.
 */
export function lalb(options: LalbPluginOptions = {}): LalbPlugin {
  const { register, onBalancer, ...balancerOptions } = options;
  // Fail at lalb(), where the mistake is, rather than at a client's first call.
  resolveLalbOptions(balancerOptions);
  return balancerPlugin(
    { name: '@trellis/lb-lalb', kernel: '^0.1.0' },
    'lalb',
    // On the client's clock (unless the options bring their own), outcomes are timed on the same
    // clock as the balancer's picks: feedback then needs no clock read.
    (context) => new LocalityAwareBalancer({ clock: context.clock, ...balancerOptions }, { outcomesOnBalancerClock: balancerOptions.clock === undefined }),
    { register, onBalancer },
  );
}
