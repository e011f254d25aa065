import * as protobuf from 'protobufjs';

/**
 * Checks the values protobufjs's `fromObject` would coerce in silence, before it runs: an int64 of
 * `'abc'` became 0, `'99999999999999999999'` wrapped around, `1.5` was truncated; an enum name that
 * does not exist became 0. The codec refuses them instead (the kernel answers INVALID_ARGUMENT,
 * never ran), naming the field. Unknown enum *numbers* stay accepted: proto3 enums are open.
 *
 * Only fields of those two kinds are checked, so a message without them costs nothing, and one with
 * an int64 costs a typeof and a short regex per value.
 */
export type ValueCheck = (object: unknown) => void;

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED_TYPES = new Set(['uint64', 'fixed64']);

/** `-?[0-9]+` (signed) or `[0-9]+`: a loop, because this runs per int64 on every encode. */
function isDecimal(text: string, signed: boolean): boolean {
  const length = text.length;
  let i = signed && length > 1 && text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === length) return false;
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** Decimal strings this short are always in range (|n| < 10^15 < 2^53). */
const ALWAYS_IN_RANGE_DIGITS = 15;

type Check = (value: unknown) => string | undefined;

function longCheck(type: string): Check {
  const unsigned = UNSIGNED_TYPES.has(type);
  const min = unsigned ? 0n : INT64_MIN;
  const max = unsigned ? UINT64_MAX : INT64_MAX;
  const expected = `a decimal integer string, an integer number, a BigInt or a Long, from ${min} to ${max}`;
  const inRange = (n: bigint) => (n >= min && n <= max ? undefined : `out of the ${type} range; expected ${expected}`);
  return (value) => {
    switch (typeof value) {
      case 'string':
        if (!isDecimal(value, !unsigned)) return `not a decimal ${unsigned ? 'non-negative ' : ''}integer; expected ${expected}`;
        return value.length <= ALWAYS_IN_RANGE_DIGITS ? undefined : inRange(BigInt(value));
      case 'number':
        if (!Number.isInteger(value)) return `not an integer; expected ${expected}`;
        return Number.isSafeInteger(value) && (!unsigned || value >= 0) ? undefined : inRange(BigInt(value));
      case 'bigint':
        return inRange(value);
      case 'object': {
        const long = value as { low?: unknown; high?: unknown } | null;
        return long !== null && typeof long.low === 'number' && typeof long.high === 'number' ? undefined : `not a number; expected ${expected}`;
      }
      default:
        return `not a number; expected ${expected}`;
    }
  };
}

function enumCheck(type: protobuf.Enum): Check {
  const names = Object.keys(type.values);
  const shown = names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')}, …`;
  return (value) => {
    if (typeof value === 'string') return Object.prototype.hasOwnProperty.call(type.values, value) ? undefined : `not a value of enum ${type.name} (${shown})`;
    if (typeof value === 'number') return Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff ? undefined : `not an int32 enum number`;
    return `not an enum value; expected a name of ${type.name} (${shown}) or its number`;
  };
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The check for one message type (its own fields; nested types check themselves), or undefined. */
export function valueCheck(type: protobuf.Type): ValueCheck | undefined {
  // Parallel arrays and an index loop: this runs on every encode of the type.
  const names: string[] = [];
  const kinds: ('single' | 'repeated' | 'map')[] = [];
  const checks: Check[] = [];
  for (const field of type.fieldsArray) {
    const resolved = field.resolve().resolvedType;
    let check: Check | undefined;
    if (resolved instanceof protobuf.Enum) check = enumCheck(resolved);
    else if (LONG_TYPES.has(field.type)) check = longCheck(field.type);
    if (check === undefined) continue;
    names.push(field.name);
    kinds.push(field.map ? 'map' : field.repeated ? 'repeated' : 'single');
    checks.push(check);
  }
  const count = checks.length;
  if (count === 0) return undefined;
  const fail = (name: string, value: unknown, problem: string): never => {
    throw new TypeError(`field "${name}" is ${show(value)}: ${problem}`);
  };
  return (object) => {
    if (typeof object !== 'object' || object === null) return;
    const record = object as Record<string, unknown>;
    for (let f = 0; f < count; f++) {
      const name = names[f]!;
      const value = record[name];
      if (value === undefined || value === null) continue;
      const kind = kinds[f];
      const check = checks[f]!;
      if (kind === 'single') {
        const problem = check(value);
        if (problem !== undefined) fail(name, value, problem);
      } else if (kind === 'repeated') {
        // A non-array is protobufjs's to refuse (it says "array expected").
        if (!Array.isArray(value)) continue;
        for (let i = 0; i < value.length; i++) {
          const problem = check(value[i]);
          if (problem !== undefined) fail(`${name}[${i}]`, value[i], problem);
        }
      } else if (typeof value === 'object') {
        for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
          const problem = check(entry);
          if (problem !== undefined) fail(`${name}[${JSON.stringify(key)}]`, entry, problem);
        }
      }
    }
  };
}
