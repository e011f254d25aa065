import { ErrorCodes, TrellisError, type ClientPluginContext } from '@trellis/core';
import type { RuleBase, RuleSpec } from './document.js';
import { invalidOption } from './errors.js';
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

const SOURCE_OPTIONS = ['rules', 'file', 'live', 'document', 'liveWaitMs', 'onError', 'onUpdate'];

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
  if (typeof options !== 'object' || options === null) throw invalidOption(plugin, 'options', options, 'an object (or nothing)');
  const known = [...SOURCE_OPTIONS, ...extraOptions];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TrellisError(ErrorCodes.INVALID_OPTION, `${plugin} has no option "${key}"; its options are ${known.join(', ')}`);
    }
  }
  const { live = true, document = 'routes', liveWaitMs = 3000, onError = warnRuleError, onUpdate } = options;
  if (typeof live !== 'boolean') throw invalidOption(plugin, 'live', live, 'true or false');
  if (typeof document !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(document)) {
    throw invalidOption(plugin, 'document', document, 'a document name of letters, digits, "_", "." and "-" (default "routes")');
  }
  if (typeof liveWaitMs !== 'number' || !Number.isFinite(liveWaitMs) || liveWaitMs < 0) {
    throw invalidOption(plugin, 'liveWaitMs', liveWaitMs, 'a number of milliseconds ≥ 0 (0: never hold calls for the live rules)');
  }
  if (typeof onError !== 'function') throw invalidOption(plugin, 'onError', onError, 'a function receiving a TrellisError');
  if (onUpdate !== undefined && typeof onUpdate !== 'function') throw invalidOption(plugin, 'onUpdate', onUpdate, 'a function');
  const startup = loadStartupRules(plugin, spec, options, document);
  return { startup, live, document, liveWaitMs, onError, onUpdate };
}

/**
 * Sets up one client's rules: the start-up rules in force, the live document swapped in as it
 * changes (when the registry can watch), calls held until the live source first answers, and update
 * events. Returns the RuleSet the plugin's router reads on each call.
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
  if (watch !== undefined && resolved.liveWaitMs > 0) ctx.addInterceptor(watch.gate(resolved.liveWaitMs), RULES_GATE_ORDER);
  return rules;
}
