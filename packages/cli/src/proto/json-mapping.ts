import * as protobuf from 'protobufjs';
import { closeNames, didYouMean } from '../suggest.js';

/**
 * Proto3's JSON mapping, both ways, over protobufjs reflection: requests are read strictly (an
 * unknown or misspelt field, a wrong type or an enum name that does not exist is an error naming the
 * path, where protobufjs's fromObject would drop it silently and send an empty request), and replies
 * are written with JSON names (lowerCamelCase, or the .proto names with `protoNames`).
 *
 * Field names are accepted both ways in requests, as proto3 JSON parsers do. Well-known types
 * (Timestamp, Duration, wrappers) are plain messages here, not their special JSON forms.
 */
export interface MappingIssue {
  readonly path: string;
  readonly message: string;
}

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);
const FLOAT = new Set(['double', 'float']);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function jsonName(field: protobuf.Field): string {
  return field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request in JSON → an object protobufjs encodes (keys as in the .proto); issues for every problem. */
export function fromJson(type: protobuf.Type, value: unknown): { value: Record<string, unknown>; issues: MappingIssue[] } {
  const issues: MappingIssue[] = [];
  const converted = readMessage(type, value, '', issues);
  return { value: converted ?? {}, issues };
}

function readMessage(type: protobuf.Type, value: unknown, path: string, issues: MappingIssue[]): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) {
    issues.push({ path, message: `expected an object (${type.fullName.slice(1)}), got ${show(value)}` });
    return undefined;
  }
  const byName = new Map<string, protobuf.Field>();
  for (const field of type.fieldsArray) {
    byName.set(field.name, field);
    byName.set(jsonName(field), field);
  }
  const out: Record<string, unknown> = {};
  const oneofSet = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = byName.get(key);
    const at = join(path, key);
    if (field === undefined) {
      const names = type.fieldsArray.map(jsonName);
      const close = closeNames(key, [...names, ...type.fieldsArray.map((f) => f.name)]);
      issues.push({
        path: at,
        message: `${type.fullName.slice(1)} has no field "${key}"; ${close.length ? didYouMean(close) : `its fields: ${names.join(', ') || 'none'}`}`,
      });
      continue;
    }
    if (item === null) continue; // proto3 JSON: null means the default
    if (field.partOf) {
      const other = oneofSet.get(field.partOf.name);
      if (other !== undefined) issues.push({ path: at, message: `"${key}" and "${other}" are both in oneof ${field.partOf.name}; set one` });
      oneofSet.set(field.partOf.name, key);
    }
    const converted = readField(field, item, at, issues);
    if (converted !== undefined) out[field.name] = converted;
  }
  return out;
}

function readField(field: protobuf.Field, value: unknown, path: string, issues: MappingIssue[]): unknown {
  field.resolve();
  if (field instanceof protobuf.MapField) {
    if (!isPlainObject(value)) {
      issues.push({ path, message: `expected an object (map<${field.keyType}, ${field.type}>), got ${show(value)}` });
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const at = join(path, key);
      if (field.keyType !== 'string' && field.keyType !== 'bool' && !/^-?\d+$/.test(key)) {
        issues.push({ path: at, message: `map key "${key}" is not a ${field.keyType}` });
        continue;
      }
      out[key] = readValue(field.type, field.resolvedType, item, at, issues);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) {
      issues.push({ path, message: `expected an array (repeated ${field.type}), got ${show(value)}` });
      return undefined;
    }
    return value.map((item, i) => readValue(field.type, field.resolvedType, item, join(path, i), issues));
  }
  return readValue(field.type, field.resolvedType, value, path, issues);
}

function readValue(
  typeName: string,
  resolved: protobuf.Type | protobuf.Enum | null,
  value: unknown,
  path: string,
  issues: MappingIssue[],
): unknown {
  const problem = (expected: string): undefined => {
    issues.push({ path, message: `expected ${expected}, got ${show(value)}` });
    return undefined;
  };
  if (resolved instanceof protobuf.Type) return readMessage(resolved, value, path, issues);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string') {
      if (value in resolved.values) return value;
      const names = Object.keys(resolved.values);
      return problem(`one of ${names.join(', ')} (${resolved.fullName.slice(1)})`);
    }
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    return problem(`an enum value name of ${resolved.fullName.slice(1)}`);
  }
  if (typeName === 'string') return typeof value === 'string' ? value : problem('a string');
  if (typeName === 'bool') return typeof value === 'boolean' ? value : problem('true or false');
  if (typeName === 'bytes') return typeof value === 'string' && BASE64.test(value) ? value : problem('base64 text (bytes)');
  if (FLOAT.has(typeName)) {
    if (typeof value === 'number') return value;
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    return problem(`a number (${typeName})`);
  }
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : '') : typeof value === 'string' ? value : '';
  const integer = /^-?\d+$/.test(text);
  if (INT32.has(typeName) || UINT32.has(typeName)) {
    const n = Number(text);
    const [min, max] = INT32.has(typeName) ? [-2147483648, 2147483647] : [0, 4294967295];
    return integer && n >= min && n <= max ? n : problem(`an integer from ${min} to ${max} (${typeName})`);
  }
  if (INT64.has(typeName) || UINT64.has(typeName)) {
    if (!integer || (UINT64.has(typeName) && text.startsWith('-'))) return problem(`an integer, as a number or a decimal string (${typeName})`);
    if (typeof value === 'number' && !Number.isSafeInteger(value)) return problem(`a decimal string for an integer this large (${typeName}; a JSON number loses digits past 2^53)`);
    const big = BigInt(text);
    const fits = INT64.has(typeName) ? big >= -(2n ** 63n) && big < 2n ** 63n : big < 2n ** 64n;
    return fits ? text : problem(`an integer that fits ${typeName}`);
  }
  return problem(typeName);
}

/** A decoded reply (keys as in the .proto, defaults filled in) → JSON with lowerCamelCase names. */
export function toJson(type: protobuf.Type, message: unknown, protoNames = false): unknown {
  // protobufjs's json option already wrote Any as { "@type": …, …fields of the packed message }.
  if (!isPlainObject(message) || type.fullName === '.google.protobuf.Any') return message;
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    // protobufjs fills absent sub-messages with null; proto3 JSON leaves them out.
    if (value === undefined || value === null) continue;
    field.resolve();
    const name = protoNames ? field.name : jsonName(field);
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (nested === undefined) out[name] = value;
    else if (field instanceof protobuf.MapField) {
      out[name] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toJson(nested, v, protoNames)]));
    } else if (field.repeated) out[name] = (value as unknown[]).map((v) => toJson(nested, v, protoNames));
    else out[name] = toJson(nested, value, protoNames);
  }
  return out;
}
