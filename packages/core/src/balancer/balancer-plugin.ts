import { invalidOption } from '../errors.js';
import { definePlugin, type ClientPluginContext, type Plugin, type PluginMeta } from '../plugin.js';
import type { LoadBalancer } from './load-balancer.js';

/** How a balancer plugin is set up on a client: the options every balancer plugin takes. */
export interface BalancerPluginOptions<B extends LoadBalancer> {
  /**
   * `'default'` (the default): using the plugin makes its balancer the client's.
   * `'named-only'`: only registers its name, for the client's `loadBalancer` option
   * (`@RpcReference({ loadBalancer })`) to select.
   */
  readonly register?: 'default' | 'named-only';
  /** Receives each client's balancer as it is created (to chart or export its state). */
  readonly onBalancer?: (balancer: B) => void;
}

export interface BalancerPlugin<B extends LoadBalancer> extends Plugin {
  /** The balancers of the clients this plugin is set up on and that are not closed yet. */
  balancers(): readonly B[];
}

/**
 * The plugin form of a load balancer, as lb-lalb, lb-p2c and lb-hash ship theirs: each client gets
 * one balancer, created on first use (`create` runs with the client's context, e.g. for its clock)
 * and shared between the name and the default slot, so whichever way it is selected it learns as
 * one; it is forgotten when the client closes. Bad `register` / `onBalancer` values throw
 * ERR_INVALID_OPTION here, when the plugin is made.
 */
export function balancerPlugin<B extends LoadBalancer>(
  meta: PluginMeta,
  name: string,
  create: (context: ClientPluginContext) => B,
  options: BalancerPluginOptions<B> = {},
): BalancerPlugin<B> {
  const { register = 'default', onBalancer } = options;
  if (register !== 'default' && register !== 'named-only') throw invalidOption('register', register, "'default' or 'named-only'");
  if (onBalancer !== undefined && typeof onBalancer !== 'function') throw invalidOption('onBalancer', onBalancer, 'a function (balancer) => void');
  const live = new Set<B>();
  return definePlugin({
    meta,
    balancers: () => [...live],
    setupClient(context) {
      let balancer: B | undefined;
      const get = (): B => {
        if (balancer === undefined) {
          balancer = create(context);
          live.add(balancer);
          onBalancer?.(balancer);
        }
        return balancer;
      };
      context.addLoadBalancer(name, get);
      if (register !== 'named-only') context.setLoadBalancer(get());
      context.onClose(() => {
        if (balancer !== undefined) live.delete(balancer);
      });
    },
  });
}
