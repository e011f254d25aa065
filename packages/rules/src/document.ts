import { createHash } from 'node:crypto';
import type { RuleIssue } from './errors.js';
import { parseRuleText } from './parse.js';
import { show, validate, type ObjectSchema, type Schema } from './schema.js';

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
}

/** A document split into its parts: the version and the raw sections, not yet validated. */
export interface RuleDocument {
  /** The document's `version`, or `sha256:<12 hex>` of its content when it has none. */
  readonly version: string;
  readonly sections: Readonly<Record<string, unknown>>;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly RuleIssue[] };

export const NAME_SCHEMA: Schema = { type: 'string', minLength: 1, maxLength: 128 };
export const PRIORITY_SCHEMA: Schema = { type: 'number', integer: true, minimum: -1_000_000, maximum: 1_000_000 };
const VERSION_SCHEMA: Schema = { anyOf: [{ type: 'string', minLength: 1, maxLength: 128 }, { type: 'number' }] };

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

function contentVersion(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
}

/**
 * Validates one section (an array of rules; absent means none) and compiles it. Every issue is
 * collected, each naming its rule (by name, or by position when the name itself is the problem).
 */
export function compileSection<R extends RuleBase, C>(spec: RuleSpec<R, C>, value: unknown): Outcome<C> {
  const rules = value === undefined || value === null ? [] : value;
  const maxRules = spec.maxRules ?? 1000;
  if (!Array.isArray(rules)) {
    return { ok: false, issues: [{ field: spec.section, message: `expected an array of rules, got ${show(rules)}` }] };
  }
  if (rules.length > maxRules) {
    return { ok: false, issues: [{ field: spec.section, message: `may hold at most ${maxRules} rules, got ${rules.length}` }] };
  }
  const schema: ObjectSchema = {
    ...spec.rule,
    properties: { name: NAME_SCHEMA, priority: PRIORITY_SCHEMA, ...spec.rule.properties },
    required: ['name', ...(spec.rule.required ?? [])],
  };
  const issues: RuleIssue[] = [];
  const firstByName = new Map<string, number>();
  rules.forEach((rule: unknown, index) => {
    const name = nameOf(rule);
    const where = name !== undefined ? { section: spec.section, rule: name } : { section: spec.section, index };
    for (const issue of validate(schema, rule)) issues.push({ ...where, field: issue.path, message: issue.message });
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
