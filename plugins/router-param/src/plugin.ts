import { definePlugin, type Plugin } from '@trellis/core';
import { clientRules, resolveRuleSource, routeWhileRulesApply, type RuleSourceOptions } from '@trellis/rules';
import { ParamRouter } from './param-router.js';
import { PARAM_RULES, type ParamRule } from './param-rules.js';

export const PLUGIN_NAME = '@trellis/router-param';

export interface ParamRouterOptions extends RuleSourceOptions {
  /**
   * Start-up rules: the `param` rules as an array, or a whole routes document as an object or as JSON
   * / YAML text. Give this or `file`, or neither (then only live rules route).
   */
  readonly rules?: readonly ParamRule[] | Readonly<Record<string, unknown>> | string;
}

/**
 * Parameter routing: rules match request fields and call metadata, and send matching calls to the
 * endpoints whose tags a target names — gray release by user list or by a stable hash percentage,
 * lanes by header. Rules come from options or a file at start-up and live from the registry's
 * `routes` document (section `param`).
 */
export function paramRouter(options: ParamRouterOptions = {}): Plugin {
  const resolved = resolveRuleSource(PLUGIN_NAME, PARAM_RULES, options);
  return definePlugin({
    meta: { name: PLUGIN_NAME, kernel: '^0.1.0' },
    setupClient(ctx) {
      const rules = clientRules(ctx, PARAM_RULES, resolved);
      const router = new ParamRouter(rules);
      ctx.addRouter(router);
      // Dormant while no rule is loaded.
      routeWhileRulesApply(ctx, router, rules, (set) => set.compiled.rules.length > 0);
    },
  });
}
