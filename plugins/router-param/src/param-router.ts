import type { Endpoint, Invocation } from '@trellis/core';
import { RouterOrder, type Router } from '@trellis/core/spi';
import { noEndpointError, type RuleSet } from '@trellis/rules';
import type { CompiledParamRules, CompiledTarget } from './param-rules.js';

/** Narrowed lists of one target: the last one, and any other input list seen (by identity). */
interface TargetCache {
  input: readonly Endpoint[] | undefined;
  output: readonly Endpoint[];
  readonly byInput: WeakMap<readonly Endpoint[], readonly Endpoint[]>;
}

/**
 * Parameter routing for one client. Per call it evaluates the compiled conditions of the rules in
 * priority order until one applies; the list that rule's target leaves is cached per (input list,
 * target), so the same array comes back for the same inputs and balancers keep their state, also
 * across rule updates that keep the target.
 */
export class ParamRouter implements Router {
  readonly name = 'param';
  readonly order = RouterOrder.PARAM;
  private readonly caches = new Map<string, TargetCache>();
  private cachesFor: CompiledParamRules | undefined;

  constructor(private readonly rules: RuleSet<CompiledParamRules>) {}

  route(list: readonly Endpoint[], invocation: Invocation): readonly Endpoint[] {
    const compiled = this.rules.compiled;
    const rules = compiled.rules;
    if (rules.length === 0) return list;
    if (compiled !== this.cachesFor) this.prune(compiled);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.applies(invocation)) continue;
      const narrowed = this.narrow(list, rule.target);
      if (narrowed.length > 0) return narrowed;
      if (rule.onEmpty === 'next') continue;
      if (rule.onEmpty === 'all') return list;
      throw noEndpointError(rule.name, `none of the ${list.length} endpoints${sample(list)} has the target tags ${rule.target.description}`);
    }
    return list;
  }

  private narrow(list: readonly Endpoint[], target: CompiledTarget): readonly Endpoint[] {
    let cache = this.caches.get(target.key);
    if (cache === undefined) this.caches.set(target.key, (cache = { input: undefined, output: list, byInput: new WeakMap() }));
    if (cache.input === list) return cache.output;
    let output = cache.byInput.get(list);
    if (output === undefined) {
      const kept = list.filter((e) => target.accepts(e));
      output = kept.length === list.length ? list : Object.freeze(kept);
      cache.byInput.set(list, output);
    }
    cache.input = list;
    cache.output = output;
    return output;
  }

  /** Drops caches of targets no rule uses any more, so a long-lived client does not accumulate them. */
  private prune(compiled: CompiledParamRules): void {
    this.cachesFor = compiled;
    const used = new Set(compiled.rules.map((r) => r.target.key));
    for (const key of this.caches.keys()) if (!used.has(key)) this.caches.delete(key);
  }
}

function sample(list: readonly Endpoint[]): string {
  if (list.length === 0) return '';
  const shown = list.slice(0, 4).map((e) => `${e.id} {${Object.entries(e.tags).map(([k, v]) => `${k}=${v}`).join(', ')}}`);
  return ` (${shown.join('; ')}${list.length > 4 ? '; …' : ''})`;
}
