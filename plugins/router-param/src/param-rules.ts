import type { Endpoint } from '@trellis/core';
import { Type } from '@trellis/core/toolkit';
import { ON_EMPTY_SCHEMA, joinPath, type ObjectSchema, type OnEmpty, type RuleBase, type RuleSpec } from '@trellis/rules';
import { CONDITION_SCHEMA, compileMatch, conditionIssues, type Condition, type Predicate } from './conditions.js';

/** Endpoint tags a target requires: each key must have the value, or one of the values. */
export type TargetTags = Readonly<Record<string, string | readonly string[]>>;

/** One rule of the `param` section, as written in the document. */
export interface ParamRule extends RuleBase {
  /** Conditions that must all hold for the rule to apply (none: it always applies). */
  readonly match?: readonly Condition[];
  /** The endpoints it sends matching calls to, by tags (`version: v2`, `lane: [gray, canary]`). */
  readonly target: TargetTags;
  /** When no endpoint has the target's tags (default `fail`). */
  readonly onEmpty?: OnEmpty;
}

/** A target compiled: `key` is canonical, so equal targets share one cache of narrowed lists. */
export interface CompiledTarget {
  readonly key: string;
  readonly description: string;
  accepts(endpoint: Endpoint): boolean;
}

export interface CompiledParamRule {
  readonly name: string;
  readonly applies: Predicate;
  readonly target: CompiledTarget;
  readonly onEmpty: OnEmpty;
}

export interface CompiledParamRules {
  readonly rules: readonly CompiledParamRule[];
}

const TAG_VALUE = Type.String({ minLength: 1, maxLength: 256 });

export const PARAM_RULE_SCHEMA: ObjectSchema = Type.Object({
  match: Type.Optional(Type.Array(CONDITION_SCHEMA, { maxItems: 64 })),
  target: Type.Record(Type.String(), Type.Union([TAG_VALUE, Type.Array(TAG_VALUE, { minItems: 1, maxItems: 256 })]), { maxProperties: 32 }),
  onEmpty: Type.Optional(ON_EMPTY_SCHEMA),
});

export function compileTarget(tags: TargetTags): CompiledTarget {
  const entries = Object.keys(tags).sort().map((key) => {
    const value = tags[key]!;
    return [key, typeof value === 'string' ? [value] : [...value].sort()] as const;
  });
  const key = JSON.stringify(entries);
  const description = entries.length === 0 ? 'any tags' : entries.map(([k, v]) => `${k}=${v.join('|')}`).join(', ');
  const checks = entries.map(([k, values]) => [k, new Set(values)] as const);
  return {
    key,
    description,
    accepts: (endpoint) => {
      for (const [k, values] of checks) {
        const tag = endpoint.tags[k];
        if (tag === undefined || !values.has(tag)) return false;
      }
      return true;
    },
  };
}

/** The `param` section: validated by @trellis/rules with this schema, then compiled once per update. */
export const PARAM_RULES: RuleSpec<ParamRule, CompiledParamRules> = {
  section: 'param',
  rule: PARAM_RULE_SCHEMA,
  check: (rule) => (rule.match ?? []).flatMap((condition, i) => conditionIssues(condition, joinPath('match', i))),
  compile: (rules) => ({
    rules: rules.map((rule) => ({
      name: rule.name,
      applies: compileMatch(rule.match),
      target: compileTarget(rule.target),
      onEmpty: rule.onEmpty ?? 'fail',
    })),
  }),
};
