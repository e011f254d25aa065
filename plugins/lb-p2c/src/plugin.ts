import { balancerPlugin, type BalancerPlugin, type BalancerPluginOptions } from '@trellis/core/spi';
import { P2cBalancer } from './p2c-balancer.js';
import { resolveP2cOptions, type P2cOptions } from './options.js';

/** P2C's options, plus `register` (`'default'` or `'named-only'`) and `onBalancer`. */
export interface P2cPluginOptions extends P2cOptions, BalancerPluginOptions<P2cBalancer> {}

export type P2cPlugin = BalancerPlugin<P2cBalancer>;

/**
 * The plugin form of P2C (core's `balancerPlugin`): each client gets one balancer, on the client's
 * clock, selectable as `'p2c'` and by default the client's balancer.
 */
export function p2c(options: P2cPluginOptions = {}): P2cPlugin {
  const { register, onBalancer, ...balancerOptions } = options;
  // Fail at p2c(), where the mistake is, rather than at a client's first call.
  resolveP2cOptions(balancerOptions);
  return balancerPlugin(
    { name: '@trellis/lb-p2c', kernel: '^0.1.0' },
    'p2c',
    // On the client's clock (no `clock` option) the pick takes the kernel's attempt-start reading.
    (context) => new P2cBalancer({ clock: context.clock, ...balancerOptions }, balancerOptions.clock === undefined),
    { register, onBalancer },
  );
}
