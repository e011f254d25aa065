/**
 * A small validator for rule documents: a JSON-Schema-like description as plain data, checked in one
 * pass that collects every problem with its path. Written here rather than pulled in (ajv & co.)
 * because rule errors must name the rule and field in a fixed, readable form, and the subset needed
 * is small.
 */
import { closestName } from '@trellis/core/spi';

interface SchemaBase {
  /** A semantic check run after the shape is right (CIDR syntax, regex safety); returns what is wrong. */
  readonly check?: (value: never) => string | undefined;
}

export interface StringSchema extends SchemaBase {
  readonly type: 'string';
  readonly enum?: readonly string[];
  readonly minLength?: number;
  readonly maxLength?: number;
}

export interface NumberSchema extends SchemaBase {
  readonly type: 'number';
  readonly integer?: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
}

export interface BooleanSchema extends SchemaBase {
  readonly type: 'boolean';
}

export interface ArraySchema extends SchemaBase {
  readonly type: 'array';
  readonly items: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/** Properties that depend on the value of one string field (`op: in` needs `values`). */
export interface Variant {
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
}

export interface ObjectSchema extends SchemaBase {
  readonly type: 'object';
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  /** Schema of keys not in `properties` (a map such as tags); unset: unknown keys are errors (typos). */
  readonly additionalProperties?: Schema;
  readonly maxProperties?: number;
  /** At most / exactly one of these keys (`field` or `header`). */
  readonly oneOf?: readonly string[];
  /** Discriminated variants keyed by the string value of `tag.field`. */
  readonly tag?: { readonly field: string; readonly variants: Readonly<Record<string, Variant>> };
}

export interface AnyOfSchema extends SchemaBase {
  readonly anyOf: readonly Schema[];
}

/** Any scalar or structure; only the `check` applies. */
export interface AnySchema extends SchemaBase {
  readonly type: 'any';
}

export type Schema = StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema | AnyOfSchema | AnySchema;

/** A problem at a path relative to the value validated (`match[0].op`; `''` for the value itself). */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** Checks `value` against `schema`; returns every problem found (empty when valid). */
export function validate(schema: Schema, value: unknown, path = ''): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(schema, value, path, issues);
  return issues;
}

/** Appends a key to a path: `a.b`, `a[0]`, `tags["app.kubernetes.io/name"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** How a value shows in a message: `"eq"`, `42`, `an object`, `an array`, `null`. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** `a string`, `one of equals, in`, `a string or an array of strings`… */
export function expected(schema: Schema): string {
  if ('anyOf' in schema) return schema.anyOf.map(expected).join(' or ');
  switch (schema.type) {
    case 'string':
      return schema.enum ? `one of ${schema.enum.join(', ')}` : 'a string';
    case 'number':
      return schema.integer ? 'an integer' : 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return `an array of ${plural(expected(schema.items))}`;
    case 'object':
      return 'an object';
    case 'any':
      return 'a value';
  }
}

function plural(what: string): string {
  if (what.startsWith('one of ')) return `values from ${what.slice(7)}`;
  return what.replace(/^an? (\w+)/, '$1s').replace(/ or an? (\w+)/g, ' or $1s');
}

function check(schema: Schema, value: unknown, path: string, issues: SchemaIssue[]): void {
  const before = issues.length;
  if ('anyOf' in schema) {
    const match = schema.anyOf.find((s) => validate(s, value, path).length === 0);
    if (match === undefined) {
      // One alternative of the right kind explains the problem better than "expected x or y".
      const kind = schema.anyOf.filter((s) => sameKind(s, value));
      if (kind.length === 1) check(kind[0]!, value, path, issues);
      else issues.push({ path, message: `expected ${expected(schema)}, got ${show(value)}` });
    }
  } else {
    switch (schema.type) {
      case 'string':
        checkString(schema, value, path, issues);
        break;
      case 'number':
        checkNumber(schema, value, path, issues);
        break;
      case 'boolean':
        if (typeof value !== 'boolean') issues.push({ path, message: `expected true or false, got ${show(value)}` });
        break;
      case 'array':
        checkArray(schema, value, path, issues);
        break;
      case 'object':
        checkObject(schema, value, path, issues);
        break;
      case 'any':
        break;
    }
  }
  if (issues.length === before && schema.check) {
    const problem = schema.check(value as never);
    if (problem !== undefined) issues.push({ path, message: problem });
  }
}

function sameKind(schema: Schema, value: unknown): boolean {
  if ('anyOf' in schema) return schema.anyOf.some((s) => sameKind(s, value));
  switch (schema.type) {
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'any':
      return true;
    default:
      return typeof value === schema.type;
  }
}

function checkString(schema: StringSchema, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (typeof value !== 'string') {
    issues.push({ path, message: `expected ${expected(schema)}, got ${show(value)}` });
  } else if (schema.enum && !schema.enum.includes(value)) {
    issues.push({ path, message: `expected one of ${schema.enum.join(', ')}, got ${show(value)}` });
  } else if (schema.minLength !== undefined && value.length < schema.minLength) {
    issues.push({ path, message: schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters long` });
  } else if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    issues.push({ path, message: `must be at most ${schema.maxLength} characters long, got ${value.length}` });
  }
}

function checkNumber(schema: NumberSchema, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push({ path, message: `expected ${expected(schema)}, got ${show(value)}` });
  } else if (schema.integer && !Number.isInteger(value)) {
    issues.push({ path, message: `expected an integer, got ${show(value)}` });
  } else if (schema.minimum !== undefined && value < schema.minimum) {
    issues.push({ path, message: `must be ≥ ${schema.minimum}, got ${value}` });
  } else if (schema.maximum !== undefined && value > schema.maximum) {
    issues.push({ path, message: `must be ≤ ${schema.maximum}, got ${value}` });
  }
}

function checkArray(schema: ArraySchema, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (!Array.isArray(value)) {
    issues.push({ path, message: `expected ${expected(schema)}, got ${show(value)}` });
    return;
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    issues.push({ path, message: schema.minItems === 1 ? 'must not be empty' : `needs at least ${schema.minItems} entries, got ${value.length}` });
    return;
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    issues.push({ path, message: `may have at most ${schema.maxItems} entries, got ${value.length}` });
    return;
  }
  value.forEach((item, i) => check(schema.items, item, joinPath(path, i), issues));
}

function checkObject(schema: ObjectSchema, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path, message: `expected an object, got ${show(value)}` });
    return;
  }
  const record = value as Record<string, unknown>;
  let properties: Record<string, Schema> = { ...schema.properties };
  const required: readonly string[] = schema.required ?? [];
  if (schema.tag) {
    const { field, variants } = schema.tag;
    const tagValue = record[field];
    const variant = typeof tagValue === 'string' && Object.hasOwn(variants, tagValue) ? variants[tagValue] : undefined;
    if (variant === undefined) {
      const message = tagValue === undefined ? 'required' : `expected one of ${Object.keys(variants).join(', ')}, got ${show(tagValue)}`;
      issues.push({ path: joinPath(path, field), message });
      // Without a valid tag the other fields cannot be judged; checking them would only add noise.
      return;
    }
    properties = { ...properties, ...variant.properties };
    for (const key of variant.required ?? []) {
      if (record[key] === undefined) issues.push({ path: joinPath(path, key), message: `required when ${field} is ${JSON.stringify(tagValue)}` });
    }
  }
  for (const key of required) {
    if (record[key] === undefined) issues.push({ path: joinPath(path, key), message: 'required' });
  }
  if (schema.oneOf) {
    const present = schema.oneOf.filter((key) => record[key] !== undefined);
    if (present.length !== 1) {
      const names = schema.oneOf.map((k) => `"${k}"`).join(' or ');
      issues.push({ path, message: present.length === 0 ? `needs ${names}` : `needs only one of ${names}, got ${present.map((k) => `"${k}"`).join(' and ')}` });
    }
  }
  const keys = Object.keys(record);
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    issues.push({ path, message: `may have at most ${schema.maxProperties} entries, got ${keys.length}` });
    return;
  }
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    const own = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (own !== undefined) check(own, item, joinPath(path, key), issues);
    else if (schema.additionalProperties !== undefined) check(schema.additionalProperties, item, joinPath(path, key), issues);
    else issues.push({ path: joinPath(path, key), message: unknownField(key, Object.keys(properties)) });
  }
}

function unknownField(key: string, known: readonly string[]): string {
  const close = closestName(key, known);
  const hint = close !== undefined ? ` (did you mean "${close}"?)` : '';
  return `unknown field${hint}; known fields: ${known.join(', ')}`;
}
