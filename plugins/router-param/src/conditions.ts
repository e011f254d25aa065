import type { Invocation } from '@trellis/core';
import { compileFieldPath, fieldPathProblem, scalarText, type ObjectSchema, type Schema } from '@trellis/rules';
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

const SCALAR: Schema = { anyOf: [{ type: 'string', maxLength: 4096 }, { type: 'number' }, { type: 'boolean' }] };
function checkRegex(pattern: string): string | undefined {
  try {
    new LinearRegex(pattern);
    return undefined;
  } catch (error) {
    return `${(error as Error).message}; patterns are matched in linear time, so backreferences, lookaround and \\b are not available`;
  }
}

function checkPercent(percent: number): string | undefined {
  return Math.abs(percent * 100 - Math.round(percent * 100)) > 1e-9 ? `has a resolution of 0.01, got ${percent}` : undefined;
}

export const CONDITION_SCHEMA: ObjectSchema = {
  type: 'object',
  properties: {
    field: { type: 'string', minLength: 1, check: fieldPathProblem },
    header: { type: 'string', minLength: 1, maxLength: 256, check: (h: string) => (/^[A-Za-z0-9._-]+$/.test(h) ? undefined : 'a metadata key has only letters, digits, ".", "_" and "-"') },
    op: { type: 'string', enum: OPERATORS },
  },
  required: ['op'],
  oneOf: ['field', 'header'],
  tag: {
    field: 'op',
    variants: {
      'equals': { properties: { value: SCALAR }, required: ['value'] },
      'not-equals': { properties: { value: SCALAR }, required: ['value'] },
      'in': { properties: { values: { type: 'array', items: SCALAR, minItems: 1, maxItems: MAX_VALUES } }, required: ['values'] },
      'not-in': { properties: { values: { type: 'array', items: SCALAR, minItems: 1, maxItems: MAX_VALUES } }, required: ['values'] },
      'prefix': { properties: { value: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['value'] },
      'regex': { properties: { pattern: { type: 'string', minLength: 1, maxLength: 1000, check: checkRegex } }, required: ['pattern'] },
      'range': { properties: { min: { type: 'number' }, max: { type: 'number' } } },
      'percent': {
        properties: { percent: { type: 'number', minimum: 0, maximum: 100, check: checkPercent }, salt: { type: 'string', maxLength: 128 } },
        required: ['percent'],
      },
    },
  },
  check: (c: Condition) => {
    if (c.op !== 'range') return undefined;
    if (c.min === undefined && c.max === undefined) return 'a range needs "min" or "max" (or both)';
    if (c.min !== undefined && c.max !== undefined && !(c.min < c.max)) return `"min" (${c.min}) must be below "max" (${c.max}): the range is min ≤ x < max`;
    return undefined;
  },
};

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
