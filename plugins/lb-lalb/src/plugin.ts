import { ErrorCodes, TrellisError, definePlugin, type Plugin } from '@trellis/core';
import { LocalityAwareBalancer } from './locality-aware-balancer.js';
import { resolveLalbOptions, type LalbOptions } from './options.js';

export interface LalbPluginOptions extends LalbOptions {
  /**
   * `'default'` (the default): `client.use(lalb())` alone switches the client to LALB.
   * `'named-only'`: only register the name, so `loadBalancer: 'lalb'` has to ask for it.
   */
  readonly register?: 'default' | 'named-only';
  /** Receives each client's balancer as it is created, e.g. to chart `balancer.snapshot()`. */
  readonly onBalancer?: (balancer: LocalityAwareBalancer) => void;
}

export interface LalbPlugin extends Plugin {
  /** The balancers of the clients this plugin is set up on and that are not closed yet. */
  balancers(): readonly LocalityAwareBalancer[];
}

/**
 * The plugin form of LALB. Each client gets one balancer, created on first use and shared between
 * the `'lalb'` name and the default slot, so whichever way it is selected the statistics are one.
 * The balancer runs on the client's clock.
 */
export function lalb(options: LalbPluginOptions = {}): LalbPlugin {
  const { register = 'default', onBalancer, ...balancerOptions } = options;
  // Fail at lalb(), where the mistake is, rather than at a client's first call.
  resolveLalbOptions(balancerOptions);
  if (register !== 'default' && register !== 'named-only') {
    throw new TrellisError(
      ErrorCodes.INVALID_OPTION,
      `lalb option "register" is ${JSON.stringify(register)}; expected 'default' or 'named-only'`,
    );
  }
  const live = new Set<LocalityAwareBalancer>();
  return definePlugin({
    meta: { name: '@trellis/lb-lalb', kernel: '^0.1.0' },
    balancers: () => [...live],
    setupClient(ctx) {
      let balancer: LocalityAwareBalancer | undefined;
      const get = (): LocalityAwareBalancer => {
        if (balancer === undefined) {
          balancer = new LocalityAwareBalancer({ clock: ctx.clock, ...balancerOptions });
          live.add(balancer);
          onBalancer?.(balancer);
        }
        return balancer;
      };
      ctx.addLoadBalancer('lalb', get);
      if (register !== 'named-only') ctx.setLoadBalancer(get());
      ctx.onClose(() => {
        if (balancer !== undefined) live.delete(balancer);
      });
    },
  });
}
