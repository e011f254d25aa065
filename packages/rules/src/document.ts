import { createHash } from 'node:crypto';
import type { RuleIssue } from './errors.js';
import { parseRuleText } from './parse.js';
import { Type, schemaFormats, type TSchema } from '@trellis/core/toolkit';
import { show, validate, type ObjectSchema, type Schema, type SchemaIssue } from './schema.js';

/** Every rule has these; the section's own schema adds the rest. */
export interface RuleBase {
  /** Unique within its section; named in errors and in "selected no endpoint" failures. */
  readonly name: string;
  /** Lower runs first; equal priorities keep document order (default 0). */
  readonly priority?: number;
}

/** How one kind of rule is validated and compiled: the part a plugin supplies. */
export interface RuleSpec<R extends RuleBase, C> {
  /** Top-level key of the document the rules live under: `ip`, `param`. */
  readonly section: string;
  /** Schema of one rule; `name` and `priority` are added to it. */
  readonly rule: ObjectSchema;
  /** Turns validated rules, already in priority order, into the form evaluated per call. */
  readonly compile: (rules: readonly R[]) => C;
  /** Most rules a section may hold (default 1000): compiling is bounded work. */
  readonly maxRules?: number;
  /**
   * What JSON Schema cannot say about one rule (`min` below `max`, exactly one of `field` and
   * `header`): run after the rule passed the schema, so a browser checking with the exported schema
   * alone accepts a little more than the server does — never less.
   */
  readonly check?: (rule: R) => readonly SchemaIssue[];
}

/** A document split into its parts: the version and the raw sections, not yet validated. */
export interface RuleDocument {
  /** The document's `version`, or `sha256:<12 hex>` of its content when it has none. */
  readonly version: string;
  readonly sections: Readonly<Record<string, unknown>>;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly RuleIssue[] };

export const NAME_SCHEMA: Schema = Type.String({ minLength: 1, maxLength: 128 });
export const PRIORITY_SCHEMA: Schema = Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 });
const VERSION_SCHEMA: Schema = Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Number()]);

const DEFAULT_MAX_RULES = 1000;

/** One rule of a section as the document holds it: the spec's fields plus `name` and `priority`. */
function ruleSchema(spec: RuleSpec<RuleBase, unknown>): TSchema {
  return Type.Object(
    { name: NAME_SCHEMA, priority: Type.Optional(PRIORITY_SCHEMA), ...spec.rule.properties },
    { additionalProperties: false },
  );
}

/**
 * The JSON Schema of a whole document holding these sections (`ruleDocumentSchema([IP_RULES,
 * PARAM_RULES])` for `routes`), as plain JSON: hand it to any JSON Schema validator (ajv in a browser,
 * with `formats` from `ruleDocumentFormats()`) to check a document as the consumers will. Uniqueness
 * of rule names and each spec's `check` stay server-side.
 */
export function ruleDocumentSchema(specs: readonly RuleSpec<never, unknown>[], otherSections: readonly string[] = []): Record<string, unknown> {
  const properties: Record<string, TSchema> = { version: Type.Optional(VERSION_SCHEMA) };
  for (const section of otherSections) properties[section] = Type.Optional(Type.Unknown());
  for (const spec of specs as readonly RuleSpec<RuleBase, unknown>[]) {
    properties[spec.section] = Type.Optional(Type.Union([
      Type.Array(ruleSchema(spec), { maxItems: spec.maxRules ?? DEFAULT_MAX_RULES }),
      Type.Null(),
    ]));
  }
  const schema = Type.Object(properties, { additionalProperties: false });
  return JSON.parse(JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...schema })) as Record<string, unknown>;
}

/** The string formats rule schemas use, as predicates for a browser validator (`ajv.addFormat(name, test)`). */
export function ruleDocumentFormats(): Record<string, (value: string) => boolean> {
  return schemaFormats();
}

/**
 * Reads a document given as text (JSON or YAML) or as an already parsed object: `{ version?, <section>:
 * [rules…], … }`. Keys other than `version` and `sections` are errors, so a misspelt section is not
 * silently ignored.
 */
export function readDocument(input: unknown, sections: readonly string[]): Outcome<RuleDocument> {
  let value = input;
  let text: string | undefined;
  if (typeof input === 'string') {
    const parsed = parseRuleText(input);
    if (!parsed.ok) return { ok: false, issues: [parsed.issue] };
    value = parsed.value;
    text = input;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const message = `must be an object with ${sections.map((s) => `"${s}"`).join(' or ')} and an optional "version", got ${show(value)}`;
    return { ok: false, issues: [{ field: '', message }] };
  }
  const record = value as Record<string, unknown>;
  const issues: RuleIssue[] = [];
  const found: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    if (key === 'version') {
      for (const issue of validate(VERSION_SCHEMA, item, 'version')) issues.push({ field: issue.path, message: issue.message });
    } else if (sections.includes(key)) {
      found[key] = item;
    } else {
      issues.push({ field: key, message: `unknown section; known: version, ${sections.join(', ')}` });
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  const version = record.version !== undefined ? String(record.version) : contentVersion(text ?? JSON.stringify(record));
  return { ok: true, value: { version, sections: found } };
}

export function contentVersion(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
}

/**
 * Validates one section (an array of rules; absent means none) and compiles it. Every issue is
 * collected, each naming its rule (by name, or by position when the name itself is the problem).
 */
export function compileSection<R extends RuleBase, C>(spec: RuleSpec<R, C>, value: unknown): Outcome<C> {
  const rules = value === undefined || value === null ? [] : value;
  const maxRules = spec.maxRules ?? DEFAULT_MAX_RULES;
  if (!Array.isArray(rules)) {
    return { ok: false, issues: [{ field: spec.section, message: `expected an array of rules, got ${show(rules)}` }] };
  }
  if (rules.length > maxRules) {
    return { ok: false, issues: [{ field: spec.section, message: `may hold at most ${maxRules} rules, got ${rules.length}` }] };
  }
  const schema = ruleSchema(spec as RuleSpec<RuleBase, unknown>);
  const issues: RuleIssue[] = [];
  const firstByName = new Map<string, number>();
  rules.forEach((rule: unknown, index) => {
    const name = nameOf(rule);
    const where = name !== undefined ? { section: spec.section, rule: name } : { section: spec.section, index };
    const found = validate(schema, rule);
    if (found.length === 0 && spec.check) found.push(...spec.check(rule as R));
    for (const issue of found) issues.push({ ...where, field: issue.path, message: issue.message });
    if (name === undefined) return;
    const first = firstByName.get(name);
    if (first === undefined) firstByName.set(name, index);
    else issues.push({ ...where, field: 'name', message: `is also the name of ${spec.section}[${first}]; names must be unique in a section` });
  });
  if (issues.length > 0) return { ok: false, issues };
  // Array.prototype.sort is stable: equal priorities keep document order.
  const ordered = [...(rules as R[])].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
  try {
    return { ok: true, value: spec.compile(ordered) };
  } catch (error) {
    // Validation should have caught it; a compile bug must still reject the document, not crash.
    return { ok: false, issues: [{ field: spec.section, message: `could not be compiled: ${(error as Error).message}` }] };
  }
}

function nameOf(rule: unknown): string | undefined {
  const name = (rule as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' && name.length <= 128 ? name : undefined;
}
