/**
 * The one options/schema layer: every plugin's options and every rule document are described as
 * TypeBox schemas (plain JSON Schema objects, so a browser can validate the same documents with any
 * JSON Schema validator) and checked here, once, when a plugin is constructed or a document loaded —
 * never per call. Mistakes come back as `ERR_INVALID_OPTION` naming the path, what was expected and
 * what was given.
 */
import { FormatRegistry, Kind, type TSchema, type Static } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { invalidOption } from '../errors.js';
import { closestName } from '../options.js';

/** One thing wrong with a value, at a path relative to the value checked (`match[0].op`; `''` for itself). */
export interface SchemaIssue {
  readonly path: string;
  /** What should be there: the schema's `description` when it has one, else derived from the schema. */
  readonly expected: string;
  /** The value found there (undefined for a missing required property). */
  readonly received: unknown;
  /** The problem as a short sentence: `expected one of equals, in, got "eq"`, `required`, `must be ≥ 1, got 0`. */
  readonly message: string;
}

const formatProblems = new Map<string, (value: string) => string | undefined>();

/**
 * Declares a string format (`Type.String({ format: 'trellis-address' })`): `problem` says what is
 * wrong with a value (undefined: fine). Registered with TypeBox, so the schema stays plain JSON
 * Schema; a browser validator needs the same format (the rule packages export theirs).
 */
export function defineFormat(name: string, problem: (value: string) => string | undefined): void {
  formatProblems.set(name, problem);
  FormatRegistry.Set(name, (value) => problem(value) === undefined);
}

/** The declared formats as predicates (`ajv.addFormat(name, test)`), so a browser validates the same strings. */
export function schemaFormats(): Record<string, (value: string) => boolean> {
  return Object.fromEntries([...formatProblems].map(([name, problem]) => [name, (value: string) => problem(value) === undefined]));
}

/**
 * Checks `input` against `schema` and returns it typed (the same object: defaults stay with the
 * plugin); throws the first problem as an `InvalidOptionError` (`ERR_INVALID_OPTION`).
 * `owner` names the plugin in the message (`retry option "backoff.jitter" is 2; expected …`).
 */
export function parseOptions<S extends TSchema>(schema: S, input: unknown, owner?: string): Static<S> {
  const issues = schemaIssues(schema, input, 1);
  if (issues.length > 0) {
    const issue = issues[0]!;
    throw invalidOption(issue.path === '' ? 'options' : issue.path, issue.received, issue.expected, owner);
  }
  return input as Static<S>;
}

/** Every problem of `value` against `schema` (at most `limit`), in document order; empty when valid. */
export function schemaIssues(schema: TSchema, value: unknown, limit = Number.POSITIVE_INFINITY): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (Value.Check(schema, value)) return issues;
  collect(schema, value, '', issues, limit);
  return issues;
}

/** Appends a key to a path: `a.b`, `a[0]`, `tags["app.kubernetes.io/name"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** How a value shows in a short message: `"eq"`, `42`, `an object`, `an array`, `null`, `nothing`. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

type Json = Record<string, unknown> & { [Kind]?: string };

/** `a string`, `one of equals, in`, `a string or an array of strings`… (the schema's description wins). */
export function expectedOf(schema: TSchema): string {
  const s = schema as Json;
  if (typeof s.description === 'string') return s.description;
  return derivedExpectation(s);
}

function derivedExpectation(s: Json): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) {
    const options = s.anyOf as Json[];
    if (options.every((o) => o.const !== undefined)) return `one of ${options.map((o) => String(o.const)).join(', ')}`;
    return [...new Set(options.map((o) => expectedOf(o as TSchema)))].join(' or ');
  }
  switch (s[Kind] ?? s.type) {
    case 'String':
    case 'string':
      return 'a string';
    case 'Integer':
    case 'integer':
      return range('an integer', s);
    case 'Number':
    case 'number':
      return range('a number', s);
    case 'Boolean':
    case 'boolean':
      return 'true or false';
    case 'Array':
    case 'array':
      return `an array of ${plural(expectedOf(s.items as TSchema))}`;
    case 'Function':
      return 'a function';
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Null':
    case 'null':
      return 'null';
    default:
      return 'an object';
  }
}

function range(what: string, s: Json): string {
  const parts: string[] = [];
  if (typeof s.minimum === 'number') parts.push(`≥ ${s.minimum}`);
  if (typeof s.exclusiveMinimum === 'number') parts.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.maximum === 'number') parts.push(`≤ ${s.maximum}`);
  if (typeof s.exclusiveMaximum === 'number') parts.push(`< ${s.exclusiveMaximum}`);
  return parts.length === 0 ? what : `${what} ${parts.join(' and ')}`;
}

function plural(what: string): string {
  if (what.startsWith('one of ')) return `values from ${what.slice(7)}`;
  return what.replace(/^an? (\w+)/, '$1s').replace(/ or an? (\w+)/g, ' or $1s');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Walks the schema beside the value so each issue names the innermost path that is wrong, picks the
 * variant of a union the value was meant to be (by its discriminating literal, or by its kind), and
 * reports unknown keys with a "did you mean" hint. TypeBox's own iterator does the leaf checks.
 */
function collect(schema: TSchema, value: unknown, path: string, issues: SchemaIssue[], limit: number): void {
  if (issues.length >= limit || Value.Check(schema, value)) return;
  const s = schema as Json;
  if (Array.isArray(s.anyOf)) {
    unionIssues(s.anyOf as TSchema[], schema, value, path, issues, limit);
    return;
  }
  const kind = s[Kind] ?? s.type;
  // An object or array schema with its own description (a duck type such as `{ now(): number }`, a
  // list of codes) is judged as a whole: its description says what to pass better than a path inside.
  if ((kind === 'Object' || kind === 'object') && isRecord(value) && typeof s.description !== 'string') {
    objectIssues(s, value, path, issues, limit);
  } else if ((kind === 'Array' || kind === 'array') && Array.isArray(value) && typeof s.description !== 'string') {
    const list = value as unknown[];
    if (arrayBoundsHold(s, list, path, issues)) list.forEach((item, i) => collect(s.items as TSchema, item, joinPath(path, i), issues, limit));
  } else if ((kind === 'Record' || kind === 'record') && isRecord(value)) {
    recordIssues(s, value, path, issues, limit);
  } else {
    leafIssue(schema, value, path, issues);
  }
}

function unionIssues(options: TSchema[], whole: TSchema, value: unknown, path: string, issues: SchemaIssue[], limit: number): void {
  // A discriminated union (`op: "in"` needs `values`): the variant whose literal the value carries.
  const tag = discriminator(options);
  if (tag !== undefined && isRecord(value)) {
    const chosen = options.find((o) => ((o as Json).properties as Record<string, Json>)[tag]!.const === value[tag]);
    if (chosen !== undefined) {
      const before = issues.length;
      collect(chosen, value, path, issues, limit);
      // A field only this variant needs says so: `values: required when op is "in"`.
      const always = options.map((o) => new Set(((o as Json).required ?? []) as string[]));
      for (let i = before; i < issues.length; i++) {
        const issue = issues[i]!;
        const key = issue.path.slice(path === '' ? 0 : path.length + 1);
        if (issue.message === 'required' && !always.every((r) => r.has(key))) {
          issues[i] = { ...issue, message: `required when ${tag} is ${JSON.stringify(value[tag])}` };
        }
      }
      return;
    }
    const allowed = options.map((o) => String(((o as Json).properties as Record<string, Json>)[tag]!.const));
    const got = value[tag];
    issues.push({
      path: joinPath(path, tag),
      expected: `one of ${allowed.join(', ')}`,
      received: got,
      message: got === undefined ? 'required' : `expected one of ${allowed.join(', ')}, got ${show(got)}`,
    });
    return;
  }
  // One alternative of the right kind explains the problem better than "expected x or y".
  const sameKind = options.filter((o) => kindMatches(o, value));
  if (sameKind.length === 1) return collect(sameKind[0]!, value, path, issues, limit);
  const expected = expectedOf(whole);
  issues.push({ path, expected, received: value, message: `expected ${expected}, got ${show(value)}` });
}

function discriminator(options: TSchema[]): string | undefined {
  if (options.length < 2) return undefined;
  const first = (options[0] as Json).properties as Record<string, Json> | undefined;
  if (first === undefined) return undefined;
  for (const key of Object.keys(first)) {
    const values = options.map((o) => ((o as Json).properties as Record<string, Json> | undefined)?.[key]?.const);
    if (values.every((v) => typeof v === 'string') && new Set(values).size === values.length) return key;
  }
  return undefined;
}

function kindMatches(schema: TSchema, value: unknown): boolean {
  const s = schema as Json;
  if (Array.isArray(s.anyOf)) return (s.anyOf as TSchema[]).some((o) => kindMatches(o, value));
  // A literal explains nothing about another value of its type (`true` where `false | {…}` is asked).
  if (s.const !== undefined) return s.const === value;
  switch (s[Kind] ?? s.type) {
    case 'Array':
    case 'array':
      return Array.isArray(value);
    case 'Object':
    case 'object':
    case 'Record':
      return isRecord(value);
    case 'Function':
      return typeof value === 'function';
    case 'Integer':
    case 'integer':
    case 'Number':
    case 'number':
      return typeof value === 'number';
    case 'String':
    case 'string':
      return typeof value === 'string';
    case 'Boolean':
    case 'boolean':
      return typeof value === 'boolean';
    case 'Null':
    case 'null':
      return value === null;
    default:
      return true;
  }
}

function objectIssues(s: Json, value: Record<string, unknown>, path: string, issues: SchemaIssue[], limit: number): void {
  const properties = (s.properties ?? {}) as Record<string, TSchema>;
  const required = (s.required ?? []) as string[];
  for (const key of required) {
    if (value[key] === undefined) {
      issues.push({ path: joinPath(path, key), expected: expectedOf(properties[key]!), received: undefined, message: 'required' });
    }
  }
  const known = Object.keys(properties);
  const keys = Object.keys(value);
  if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties) {
    issues.push({ path, expected: `at most ${s.maxProperties} entries`, received: value, message: `may have at most ${s.maxProperties} entries, got ${keys.length}` });
    return;
  }
  for (const key of keys) {
    const item = value[key];
    if (item === undefined) continue;
    if (Object.hasOwn(properties, key)) {
      collect(properties[key]!, item, joinPath(path, key), issues, limit);
    } else if (isSchema(s.additionalProperties)) {
      collect(s.additionalProperties, item, joinPath(path, key), issues, limit);
    } else if (s.additionalProperties === false) {
      const near = closestName(key, known);
      const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
      issues.push({
        path: joinPath(path, key),
        expected: `one of the known keys${hint}: ${known.join(', ')}`,
        received: item,
        message: `unknown field${hint}; known fields: ${known.join(', ')}`,
      });
    }
  }
  // What is left is a rule on the object as a whole (minProperties, a `not`, a refinement).
  if (issues.length === 0 && !Value.Check(s as TSchema, value)) leafIssue(s as TSchema, value, path, issues);
}

function recordIssues(s: Json, value: Record<string, unknown>, path: string, issues: SchemaIssue[], limit: number): void {
  const patterns = (s.patternProperties ?? {}) as Record<string, TSchema>;
  const itemSchema = Object.values(patterns)[0];
  const keys = Object.keys(value);
  if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties) {
    issues.push({ path, expected: `at most ${s.maxProperties} entries`, received: value, message: `may have at most ${s.maxProperties} entries, got ${keys.length}` });
    return;
  }
  if (itemSchema !== undefined) for (const key of keys) collect(itemSchema, value[key], joinPath(path, key), issues, limit);
}

function arrayBoundsHold(s: Json, value: unknown[], path: string, issues: SchemaIssue[]): boolean {
  const expected = expectedOf(s as TSchema);
  if (typeof s.minItems === 'number' && value.length < s.minItems) {
    issues.push({ path, expected, received: value, message: s.minItems === 1 ? 'must not be empty' : `needs at least ${s.minItems} entries, got ${value.length}` });
    return false;
  }
  if (typeof s.maxItems === 'number' && value.length > s.maxItems) {
    issues.push({ path, expected, received: value, message: `may have at most ${s.maxItems} entries, got ${value.length}` });
    return false;
  }
  return true;
}

function isSchema(value: unknown): value is TSchema {
  return isRecord(value);
}

/** A value of the wrong kind or out of bounds: TypeBox names the failed keyword, the message follows it. */
function leafIssue(schema: TSchema, value: unknown, path: string, issues: SchemaIssue[]): void {
  const error: ValueError | undefined = Value.Errors(schema, value).First();
  let expected = expectedOf(schema);
  const s = schema as Json;
  let message = `expected ${kindOnly(s) ?? expected}, got ${show(value)}`;
  switch (error?.type) {
    case ValueErrorType.StringMinLength:
      message = s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters long`;
      break;
    case ValueErrorType.StringMaxLength:
      message = `must be at most ${String(s.maxLength)} characters long, got ${(value as string).length}`;
      break;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      message = `must be ≥ ${String(s.minimum)}, got ${String(value)}`;
      break;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      message = `must be ≤ ${String(s.maximum)}, got ${String(value)}`;
      break;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      message = `must be > ${String(s.exclusiveMinimum)}, got ${String(value)}`;
      break;
    case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerExclusiveMaximum:
      message = `must be < ${String(s.exclusiveMaximum)}, got ${String(value)}`;
      break;
    case ValueErrorType.StringFormat: {
      const problem = formatProblems.get(String(s.format))?.(value as string);
      if (problem !== undefined) {
        message = problem;
        expected = `${expected} (${problem})`;
      }
      break;
    }
    case ValueErrorType.ObjectMinProperties:
      if (s.minProperties === 1) {
        const keys = Object.keys((s.properties ?? {}) as object).map((k) => `"${k}"`);
        message = `needs ${keys.join(' or ')}${keys.length === 2 ? ' (or both)' : ''}`;
      }
      break;
    default:
      break;
  }
  issues.push({ path, expected, received: value, message });
}

/** `an integer` rather than `an integer ≥ 0 and ≤ 100` when the value is not even of the right kind. */
function kindOnly(s: Json): string | undefined {
  if (typeof s.description === 'string') return undefined;
  switch (s[Kind] ?? s.type) {
    case 'Integer':
    case 'integer':
      return 'an integer';
    case 'Number':
    case 'number':
      return 'a number';
    default:
      return undefined;
  }
}
