/**
 * Paths into the request message: `user.id`, `items[0].sku`, `labels.tier` (map fields are objects).
 * Written as the .proto names them (`user_id`) or as decoded (`userId`): with the codec's default
 * options messages are camelCase, so each snake_case segment is also tried in camelCase.
 *
 * Shared by the plugins that read a request value by path: router-param's conditions and
 * lb-hash's hash key.
 */

import { defineFormat } from '@trellis/core/toolkit';

export type FieldGetter = (request: unknown) => unknown;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/;

/** Parses a path into keys; returns a message for a malformed one. */
export function parseFieldPath(path: string): (string | number)[] | string {
  if (path.length > 256) return 'is longer than 256 characters';
  const keys: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = SEGMENT.exec(part);
    if (!m) return `${JSON.stringify(path)} is not a field path; write fields separated by dots, with [n] for list items: user.id, items[0].sku`;
    keys.push(m[1]!);
    for (const index of m[2]!.match(/\d+/g) ?? []) keys.push(Number(index));
  }
  return keys;
}

/**
 * What is wrong with a path given in options or a rule document, or undefined when it is usable:
 * malformed, or naming a key that reaches the object prototype rather than a field.
 */
export function fieldPathProblem(path: string): string | undefined {
  const keys = parseFieldPath(path);
  if (typeof keys === 'string') return keys;
  const bad = keys.find((k) => typeof k === 'string' && FORBIDDEN_KEYS.has(k));
  return bad === undefined ? undefined : `"${bad}" cannot be a field name`;
}

/** The string format of a field path in option and document schemas (`Type.String({ format: FIELD_PATH_FORMAT })`). */
export const FIELD_PATH_FORMAT = 'trellis-field-path';
defineFormat(FIELD_PATH_FORMAT, fieldPathProblem);

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Compiles a path (validated by parseFieldPath) into a getter: a few property reads per call. */
export function compileFieldPath(path: string): FieldGetter {
  const keys = parseFieldPath(path);
  if (typeof keys === 'string') throw new Error(keys);
  const steps = keys.map((key) => (typeof key === 'number' || camel(key) === key ? [key] : [key, camel(key)]));
  // The common paths (`id`, `user.id`) get a getter without a loop.
  if (steps.length === 1 && steps[0]!.length === 1) {
    const key = steps[0]![0]!;
    return (request) => (request !== null && typeof request === 'object' ? (request as Record<string | number, unknown>)[key] : undefined);
  }
  if (steps.length === 2 && steps[0]!.length === 1 && steps[1]!.length === 1) {
    const first = steps[0]![0]!;
    const second = steps[1]![0]!;
    return (request) => {
      if (request === null || typeof request !== 'object') return undefined;
      const inner = (request as Record<string | number, unknown>)[first];
      return inner !== null && typeof inner === 'object' ? (inner as Record<string | number, unknown>)[second] : undefined;
    };
  }
  return (request) => {
    let value: unknown = request;
    for (const names of steps) {
      if (value === null || typeof value !== 'object') return undefined;
      const record = value as Record<string | number, unknown>;
      let found = record[names[0]!];
      if (found === undefined && names.length > 1) found = record[names[1]!];
      value = found;
    }
    return value;
  };
}

/**
 * A request value as text, for comparing or hashing: numbers, booleans, bigints and int64s (Long
 * objects or strings) give their decimal text, so `42` and `"42"` are the same value. Anything
 * else (absent, null, a message, a list) is `undefined`: it is not a value.
 */
export function scalarText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'object':
      // protobufjs Long (int64 with `longs` unset) prints its decimal value.
      if (value !== null && !Array.isArray(value) && typeof (value as { low?: unknown }).low === 'number' && typeof (value as { high?: unknown }).high === 'number') {
        return String(value);
      }
      return undefined;
    default:
      return undefined;
  }
}
