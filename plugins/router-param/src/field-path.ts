/**
 * Paths into the request message: `user.id`, `items[0].sku`, `labels.tier` (map fields are objects).
 * Written as the .proto names them (`user_id`) or as decoded (`userId`): with the codec's default
 * options messages are camelCase, so each snake_case segment is also tried in camelCase.
 */

export type FieldGetter = (request: unknown) => unknown;

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
