import { Type, defineFormat } from '@trellis/core/toolkit';
import { ON_EMPTY_SCHEMA, type ObjectSchema, type OnEmpty, type RuleBase, type RuleSpec, type Schema } from '@trellis/rules';
import { AddressSet, parseAddressPattern } from './address.js';

/** An address list, or separate allow- and deny-lists. A bare list is an allow-list. */
export type AddressRule = readonly string[] | { readonly allow?: readonly string[]; readonly deny?: readonly string[] };

/** One rule of the `ip` section, as written in the document. */
export interface IpRule extends RuleBase {
  /** Consumers the rule applies to, by their own address (default: every consumer). */
  readonly from?: AddressRule;
  /** Providers those consumers may call. */
  readonly to: AddressRule;
  /** When `to` leaves no endpoint (default `fail`). */
  readonly onEmpty?: OnEmpty;
}

/** An allow/deny pair, compiled. An absent allow-list allows everything. */
export interface AddressFilter {
  readonly allow?: AddressSet;
  readonly deny?: AddressSet;
}

export interface CompiledIpRule {
  readonly name: string;
  readonly from?: AddressFilter;
  readonly to: AddressFilter;
  readonly onEmpty: OnEmpty;
}

/** The `ip` section compiled: rules in priority order. */
export interface CompiledIpRules {
  readonly rules: readonly CompiledIpRule[];
}

/** Provider addresses (a port allowed) and consumer addresses (none), as schema string formats. */
export const PROVIDER_ADDRESS_FORMAT = 'trellis-provider-address';
export const CONSUMER_ADDRESS_FORMAT = 'trellis-consumer-address';

function addressProblem(withPorts: boolean): (text: string) => string | undefined {
  return (text) => {
    const pattern = parseAddressPattern(text);
    if (typeof pattern === 'string') return pattern;
    if (!withPorts && pattern.port !== undefined) return `consumer addresses have no port; write ${JSON.stringify(text.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''))}`;
    return undefined;
  };
}
defineFormat(PROVIDER_ADDRESS_FORMAT, addressProblem(true));
defineFormat(CONSUMER_ADDRESS_FORMAT, addressProblem(false));

function addressList(withPorts: boolean): Schema {
  return Type.Array(Type.String({ format: withPorts ? PROVIDER_ADDRESS_FORMAT : CONSUMER_ADDRESS_FORMAT }), { minItems: 1, maxItems: 10_000 });
}

function addressRule(withPorts: boolean): Schema {
  return Type.Union([
    addressList(withPorts),
    Type.Object(
      { allow: Type.Optional(addressList(withPorts)), deny: Type.Optional(addressList(withPorts)) },
      { additionalProperties: false, minProperties: 1 },
    ),
  ]);
}

export const IP_RULE_SCHEMA: ObjectSchema = Type.Object({
  from: Type.Optional(addressRule(false)),
  to: addressRule(true),
  onEmpty: Type.Optional(ON_EMPTY_SCHEMA),
});

function filter(rule: AddressRule): AddressFilter {
  if (Array.isArray(rule)) return { allow: AddressSet.parse(rule as readonly string[]) };
  const { allow, deny } = rule as { allow?: readonly string[]; deny?: readonly string[] };
  return { allow: allow && AddressSet.parse(allow), deny: deny && AddressSet.parse(deny) };
}

export function passes(f: AddressFilter, host: string, port?: number): boolean {
  return (f.allow === undefined || f.allow.has(host, port)) && !(f.deny !== undefined && f.deny.has(host, port));
}

export function describeFilter(f: AddressFilter): string {
  const parts: string[] = [];
  if (f.allow) parts.push(`allow ${f.allow}`);
  if (f.deny) parts.push(`deny ${f.deny}`);
  return parts.join('; ');
}

/** The `ip` section: validated by @trellis/rules with this schema, then compiled once per update. */
export const IP_RULES: RuleSpec<IpRule, CompiledIpRules> = {
  section: 'ip',
  rule: IP_RULE_SCHEMA,
  compile: (rules) => ({
    rules: rules.map((rule) => ({
      name: rule.name,
      from: rule.from === undefined ? undefined : filter(rule.from),
      to: filter(rule.to),
      onEmpty: rule.onEmpty ?? 'fail',
    })),
  }),
};
