import type { Endpoint, Invocation } from '@trellis/core';
import { RouterOrder, type Router } from '@trellis/core/spi';
import { noEndpointError, type RuleSet } from '@trellis/rules';
import { parseIp } from './address.js';
import { describeFilter, passes, type CompiledIpRule, type CompiledIpRules } from './ip-rules.js';

/** A narrowed list, or the `fail` policy's verdict (thrown anew on each call). */
type Outcome = readonly Endpoint[] | { readonly rule: CompiledIpRule; readonly detail: string };

/**
 * IP routing for one client. Which rules apply depends only on the consumer's own address, so it is
 * worked out once per rule update; what a rule leaves of a list depends only on the list, so the
 * outcome is cached per input list (by identity). A call therefore costs two comparisons in the
 * steady state, and balancers see the same narrowed array every time.
 */
export class IpRouter implements Router {
  readonly name = 'ip';
  readonly order = RouterOrder.IP;
  private compiled: CompiledIpRules | undefined;
  private applicable: readonly CompiledIpRule[] = [];
  private outcomes = new WeakMap<readonly Endpoint[], Outcome>();
  private lastInput: readonly Endpoint[] | undefined;
  private lastOutcome: Outcome = [];

  constructor(private readonly rules: RuleSet<CompiledIpRules>, readonly localAddress: string) {}

  route(list: readonly Endpoint[], _invocation: Invocation): readonly Endpoint[] {
    const compiled = this.rules.compiled;
    if (compiled !== this.compiled) this.reset(compiled);
    if (this.applicable.length === 0) return list;
    let outcome: Outcome;
    if (list === this.lastInput) {
      outcome = this.lastOutcome;
    } else {
      outcome = this.outcomes.get(list) ?? this.narrow(list);
      this.lastInput = list;
      this.lastOutcome = outcome;
    }
    if ('rule' in outcome) throw noEndpointError(outcome.rule.name, outcome.detail);
    return outcome;
  }

  /** The rules whose `from` admits this consumer, in priority order. */
  get applicableRules(): readonly string[] {
    const compiled = this.rules.compiled;
    if (compiled !== this.compiled) this.reset(compiled);
    return this.applicable.map((r) => r.name);
  }

  private reset(compiled: CompiledIpRules): void {
    this.compiled = compiled;
    const local = parseIp(this.localAddress) === undefined ? undefined : this.localAddress;
    this.applicable = compiled.rules.filter((r) => r.from === undefined || (local !== undefined && passes(r.from, local)));
    this.outcomes = new WeakMap();
    this.lastInput = undefined;
  }

  /** The first applicable rule decides; `next` hands over to the one after it, `all` keeps the list. */
  private narrow(list: readonly Endpoint[]): Outcome {
    let outcome: Outcome = list;
    for (const rule of this.applicable) {
      const kept = list.filter((e) => passes(rule.to, e.host, e.port));
      if (kept.length === list.length) break;
      if (kept.length > 0) {
        outcome = Object.freeze(kept);
        break;
      }
      if (rule.onEmpty === 'next') continue;
      if (rule.onEmpty === 'fail') {
        const detail = `none of the ${list.length} endpoints (${sample(list)}) passes "to" (${describeFilter(rule.to)}) for consumer ${this.localAddress}`;
        outcome = { rule, detail };
      }
      break;
    }
    this.outcomes.set(list, outcome);
    return outcome;
  }
}

function sample(list: readonly Endpoint[]): string {
  const ids = list.slice(0, 4).map((e) => e.id).join(', ');
  return list.length > 4 ? `${ids}, …` : ids;
}
