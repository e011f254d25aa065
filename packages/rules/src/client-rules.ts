import type { ClientPluginContext, Router, TrellisError } from '@trellis/core';
import { Type, parseOptions, type TSchema } from '@trellis/core/toolkit';
import type { RuleBase, RuleSpec } from './document.js';
import { warnRuleError } from './report.js';
import { RuleSet, type RuleOrigin, type RuleSetState } from './rule-set.js';
import { loadStartupRules, type StartupRules } from './startup-rules.js';
import { RULES_GATE_ORDER, watchRules } from './watch-rules.js';

/** Options every rule-reading plugin takes, besides its own. */
export interface RuleSourceOptions extends StartupRules {
  /** Follow the live document in the registry when the registry can watch documents (default true). */
  readonly live?: boolean;
  /** Name of the live document: `/trellis/config/{group}/{service}/{document}` (default `routes`). */
  readonly document?: string;
  /** How long calls wait at start-up for the first answer of the live source (default 3000 ms). */
  readonly liveWaitMs?: number;
  /** Rejected live documents and a silent live source (default: a process warning). */
  readonly onError?: (error: TrellisError) => void;
  /** Each time a client's rules in force change (a live document applied, or deleted). */
  readonly onUpdate?: (update: RulesUpdate) => void;
}

/** The options every rule-reading plugin shares; `rules` and `file` are read by loadStartupRules. */
const SOURCE_OPTIONS: Record<string, TSchema> = {
  rules: Type.Optional(Type.Unknown()),
  file: Type.Optional(Type.Unknown()),
  live: Type.Optional(Type.Boolean()),
  document: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'a document name of letters, digits, "_", "." and "-" (default "routes")' })),
  liveWaitMs: Type.Optional(Type.Number({ minimum: 0, description: 'a number of milliseconds ≥ 0 (0: never hold calls for the live rules)' })),
  onError: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function receiving a TrellisError' })),
  onUpdate: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function' })),
};

export interface RulesUpdate {
  /** `group/name` of the client's service. */
  readonly service: string;
  readonly version: string;
  readonly previousVersion: string;
  readonly origin: RuleOrigin;
  readonly source: string;
}

export interface ResolvedRuleSource<C> {
  readonly startup: RuleSetState<C>;
  readonly live: boolean;
  readonly document: string;
  readonly liveWaitMs: number;
  readonly onError: (error: TrellisError) => void;
  readonly onUpdate: ((update: RulesUpdate) => void) | undefined;
}

/** Checks the options and compiles the start-up rules; throws `ERR_INVALID_OPTION` on any mistake. */
export function resolveRuleSource<R extends RuleBase, C>(
  plugin: string,
  spec: RuleSpec<R, C>,
  options: RuleSourceOptions,
  /** The plugin's own option names, besides these: anything else is reported as a typo. */
  extraOptions: readonly string[] = [],
): ResolvedRuleSource<C> {
  // The plugin's own options are its to check; here they only need to exist (anything else is a typo).
  const own = Object.fromEntries(extraOptions.map((name) => [name, Type.Optional(Type.Unknown())]));
  parseOptions(Type.Object({ ...SOURCE_OPTIONS, ...own }, { additionalProperties: false }), options, plugin);
  const { live = true, document = 'routes', liveWaitMs = 3000, onError = warnRuleError, onUpdate } = options;
  const startup = loadStartupRules(plugin, spec, options, document);
  return { startup, live, document, liveWaitMs, onError, onUpdate };
}

/**
 * Sets up one client's rules: the start-up rules in force, the live document swapped in as it
 * changes (when the registry can watch), calls held until the live source first answers (a gate that
 * goes dormant then), and update events. Returns the RuleSet the plugin's router reads on each call.
 */
export function clientRules<R extends RuleBase, C>(ctx: ClientPluginContext, spec: RuleSpec<R, C>, resolved: ResolvedRuleSource<C>): RuleSet<C> {
  const rules = new RuleSet<C>(resolved.startup);
  // For operators (the admin console): which rules of this section are in force, and from where.
  ctx.addInspector(`@trellis/rules/${spec.section}`, () => {
    const { version, origin, source } = rules.state;
    return { document: resolved.document, section: spec.section, live: resolved.live, version, origin, source };
  });
  const { onUpdate } = resolved;
  if (onUpdate !== undefined) {
    const service = `${ctx.service.group}/${ctx.service.name}`;
    rules.onSwap((state, previous) => {
      try {
        onUpdate({ service, version: state.version, previousVersion: previous.version, origin: state.origin, source: state.source });
      } catch { /* an observer's failure must not undo an applied update */ }
    });
  }
  if (!resolved.live) return rules;
  const watch = watchRules(ctx, resolved.document, { spec, target: rules, onError: resolved.onError });
  if (watch !== undefined && resolved.liveWaitMs > 0) {
    const gate = watch.gate(resolved.liveWaitMs);
    ctx.addGate(gate, RULES_GATE_ORDER);
    // Once the live source answered (or waiting was given up) the gate holds nothing ever again: off
    // the call path (a dormant gate, not even its one test per attempt). Calls already waiting at it
    // are woken by the same answer and go on. It never needs waking: the watch cannot lose its answer
    // (a deleted document is the answer "none", an outage delivers nothing; RuleWatch.onLoaded). A
    // client closed before the answer drops this listener with its watch.
    watch.onLoaded(() => ctx.setHookActive(gate, false));
  }
  return rules;
}

/**
 * Keeps a rule-driven router on the call path only while `applies(rules)` says a rule in force has
 * something to do for this client (`ClientPluginContext.setHookActive`): with none, the kernel skips
 * the router. Re-judged at every swap of the rule set, so a rule update that brings one routes from
 * the next call. The subscription ends with the client.
 */
export function routeWhileRulesApply<C>(ctx: ClientPluginContext, router: Router, rules: RuleSet<C>, applies: (rules: RuleSet<C>) => boolean): void {
  const follow = (): void => ctx.setHookActive(router, applies(rules));
  follow();
  const subscription = rules.onSwap(follow);
  ctx.onClose(() => subscription.dispose());
}
