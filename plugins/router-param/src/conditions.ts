import type { Invocation } from '@trellis/core';
import { Type, defineFormat } from '@trellis/core/toolkit';
import { FIELD_PATH_FORMAT, compileFieldPath, joinPath, scalarText, type Schema, type SchemaIssue } from '@trellis/rules';
import { BUCKETS, bucketOf } from './hash.js';
import { LinearRegex } from './linear-regex/index.js';

export const OPERATORS = ['equals', 'not-equals', 'in', 'not-in', 'prefix', 'regex', 'range', 'percent'] as const;
export type Operator = (typeof OPERATORS)[number];

export type Scalar = string | number | boolean;

/** One condition of a rule's `match`, as written in the document. */
export interface Condition {
  /** A path into the request message: `user.id`. Give this or `header`. */
  readonly field?: string;
  /** A call metadata key (lower-cased): `x-lane`. */
  readonly header?: string;
  readonly op: Operator;
  /** `equals`, `not-equals`, `prefix`. */
  readonly value?: Scalar;
  /** `in`, `not-in`. */
  readonly values?: readonly Scalar[];
  /** `regex`: JavaScript syntax without backreferences, lookaround or `\b`; matched in linear time. */
  readonly pattern?: string;
  /** `range`: `min ≤ x < max`; either may be left out. */
  readonly min?: number;
  readonly max?: number;
  /** `percent`: the share of values (0–100, steps of 0.01) whose hash bucket is below it. */
  readonly percent?: number;
  /** `percent`: mixed into the hash; change it to reshuffle who is in the slice. */
  readonly salt?: string;
}

export type Predicate = (invocation: Invocation) => boolean;

/** Longer values never match a `regex` condition: the cost of a call stays bounded. */
export const MAX_REGEX_INPUT = 1024;
const MAX_VALUES = 100_000;

const SCALAR: Schema = Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean()]);

/** Regex conditions' patterns and metadata keys, as schema string formats. */
export const LINEAR_REGEX_FORMAT = 'trellis-linear-regex';
export const METADATA_KEY_FORMAT = 'trellis-metadata-key';

defineFormat(LINEAR_REGEX_FORMAT, (pattern) => {
  try {
    new LinearRegex(pattern);
    return undefined;
  } catch (error) {
    return `${(error as Error).message}; patterns are matched in linear time, so backreferences, lookaround and \\b are not available`;
  }
});
defineFormat(METADATA_KEY_FORMAT, (h) => (/^[A-Za-z0-9._-]+$/.test(h) ? undefined : 'a metadata key has only letters, digits, ".", "_" and "-"'));

const VALUES = Type.Array(SCALAR, { minItems: 1, maxItems: MAX_VALUES });

/** Each operator's operands, beside the fields every condition has. */
const VARIANTS: Record<Operator, Record<string, Schema>> = {
  'equals': { value: SCALAR },
  'not-equals': { value: SCALAR },
  'in': { values: VALUES },
  'not-in': { values: VALUES },
  'prefix': { value: Type.String({ minLength: 1, maxLength: 4096 }) },
  'regex': { pattern: Type.String({ minLength: 1, maxLength: 1000, format: LINEAR_REGEX_FORMAT }) },
  'range': { min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) },
  'percent': { percent: Type.Number({ minimum: 0, maximum: 100 }), salt: Type.Optional(Type.String({ maxLength: 128 })) },
};

/** One condition: a union keyed by `op` (`op: in` needs `values`), unknown fields refused. */
export const CONDITION_SCHEMA: Schema = Type.Union(OPERATORS.map((op) => Type.Object({
  field: Type.Optional(Type.String({ minLength: 1, format: FIELD_PATH_FORMAT })),
  header: Type.Optional(Type.String({ minLength: 1, maxLength: 256, format: METADATA_KEY_FORMAT })),
  op: Type.Literal(op),
  ...VARIANTS[op],
}, { additionalProperties: false })));

/**
 * What JSON Schema cannot say about a condition that passed the schema: exactly one of `field` and
 * `header`, a range's bounds in order, a percent's 0.01 resolution.
 */
export function conditionIssues(c: Condition, path: string): SchemaIssue[] {
  const present = (['field', 'header'] as const).filter((key) => c[key] !== undefined);
  if (present.length === 0) return [{ path, message: 'needs "field" or "header"' }];
  if (present.length > 1) return [{ path, message: 'needs only one of "field" or "header", got "field" and "header"' }];
  if (c.op === 'range') {
    if (c.min === undefined && c.max === undefined) return [{ path, message: 'a range needs "min" or "max" (or both)' }];
    if (c.min !== undefined && c.max !== undefined && !(c.min < c.max)) return [{ path, message: `"min" (${c.min}) must be below "max" (${c.max}): the range is min ≤ x < max` }];
  }
  if (c.op === 'percent' && Math.abs(c.percent! * 100 - Math.round(c.percent! * 100)) > 1e-9) {
    return [{ path: joinPath(path, 'percent'), message: `has a resolution of 0.01, got ${c.percent}` }];
  }
  return [];
}

/**
 * Reads a request field or header as a string: numbers, booleans, bigints and int64s (Long objects or
 * strings) compare by their decimal text, so `value: 42` and `value: "42"` mean the same. Anything
 * else — absent, null, a message, a list — is `undefined`, which no condition matches.
 */
function reader(condition: Condition): (invocation: Invocation) => string | undefined {
  if (condition.header !== undefined) {
    const key = condition.header.toLowerCase();
    return (inv) => inv.metadata.get(key);
  }
  const get = compileFieldPath(condition.field!);
  return (inv) => scalarText(get(inv.request));
}

/** Turns a validated condition into a closure: the operator and its operands are fixed here, once. */
export function compileCondition(condition: Condition): Predicate {
  const read = reader(condition);
  switch (condition.op) {
    case 'equals': {
      const expected = String(condition.value);
      return (inv) => read(inv) === expected;
    }
    case 'not-equals': {
      const expected = String(condition.value);
      return (inv) => {
        const v = read(inv);
        return v !== undefined && v !== expected;
      };
    }
    case 'in': {
      const set = new Set(condition.values!.map(String));
      return (inv) => {
        const v = read(inv);
        return v !== undefined && set.has(v);
      };
    }
    case 'not-in': {
      const set = new Set(condition.values!.map(String));
      return (inv) => {
        const v = read(inv);
        return v !== undefined && !set.has(v);
      };
    }
    case 'prefix': {
      const prefix = String(condition.value);
      return (inv) => read(inv)?.startsWith(prefix) === true;
    }
    case 'regex': {
      const regex = new LinearRegex(condition.pattern!);
      return (inv) => {
        const v = read(inv);
        return v !== undefined && v.length <= MAX_REGEX_INPUT && regex.test(v);
      };
    }
    case 'range': {
      const min = condition.min ?? -Infinity;
      const max = condition.max ?? Infinity;
      return (inv) => {
        const v = read(inv);
        if (v === undefined || v.trim() === '') return false; // Number('') is 0, not "absent"
        const n = Number(v);
        return n >= min && n < max;
      };
    }
    case 'percent': {
      const below = Math.round(condition.percent! * (BUCKETS / 100));
      const salt = condition.salt ?? '';
      return (inv) => {
        const v = read(inv);
        // An empty id is "no user", not one user: it must not pull every anonymous call into a slice.
        return v !== undefined && v !== '' && bucketOf(v, salt) < below;
      };
    }
  }
}

/** The conditions of one rule as one predicate (all must hold; none: always). */
export function compileMatch(conditions: readonly Condition[] | undefined): Predicate {
  const compiled = (conditions ?? []).map(compileCondition);
  if (compiled.length === 0) return () => true;
  if (compiled.length === 1) return compiled[0]!;
  return (inv) => {
    for (const predicate of compiled) if (!predicate(inv)) return false;
    return true;
  };
}
