import { definePlugin, type Plugin } from '@trellis/core';
import { clientRules, resolveRuleSource, routeWhileRulesApply, type RuleSourceOptions } from '@trellis/rules';
import { IpRouter } from './ip-router.js';
import { IP_RULES, type IpRule } from './ip-rules.js';

export const PLUGIN_NAME = '@trellis/router-ip';

export interface IpRouterOptions extends RuleSourceOptions {
  /**
   * Start-up rules: the `ip` rules as an array, or a whole routes document as an object or as JSON /
   * YAML text. Give this or `file`, or neither (then only live rules route).
   */
  readonly rules?: readonly IpRule[] | Readonly<Record<string, unknown>> | string;
  /** Optional: called with each client's router (tests, diagnostics). */
  readonly onRouter?: (router: IpRouter) => void;
}

/**
 * IP routing: rules match the consumer's own address (`from`) and narrow the providers to address
 * sets (`to`), with allow- and deny-lists. Rules come from options or a file at start-up and live
 * from the registry's `routes` document (section `ip`).
 */
export function ipRouter(options: IpRouterOptions = {}): Plugin {
  const resolved = resolveRuleSource(PLUGIN_NAME, IP_RULES, options, ['onRouter']);
  const { onRouter } = options;
  return definePlugin({
    meta: { name: PLUGIN_NAME, kernel: '^0.1.0' },
    setupClient(ctx) {
      const rules = clientRules(ctx, IP_RULES, resolved);
      const router = new IpRouter(rules, ctx.localAddress);
      ctx.addRouter(router);
      // Dormant while no rule applies to this consumer (none loaded, or none whose `from` admits it).
      routeWhileRulesApply(ctx, router, rules, () => router.applicableRules.length > 0);
      onRouter?.(router);
    },
  });
}
