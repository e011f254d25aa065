import type { Invocation } from '@trellis/core';
import { compileFieldPath, scalarText, stableHash32 } from '@trellis/rules';
import type { HashKeyOptions } from './options.js';

/** A call's hash key as uint32, or undefined when the call has none. */
export type KeyHasher = (invocation: Invocation) => number | undefined;

/**
 * The key's text is read as router-param reads values (rules' field paths and `scalarText`: 42 and
 * "42" are one key, a protobufjs Long is its decimal text) and hashed with rules' stable hash, so
 * every client, in any process, sends a key to the same endpoint.
 */
export function compileKeyHasher(options: HashKeyOptions): KeyHasher {
  if (options.field !== undefined) {
    const get = compileFieldPath(options.field);
    return (inv) => hashText(scalarText(get(inv.request)));
  }
  if (options.header !== undefined) {
    const name = options.header.toLowerCase();
    return (inv) => hashText(inv.metadata.get(name));
  }
  const key = options.key!;
  return (inv) => hashText(scalarText(key(inv)));
}

/** An empty key is no key: callers without an id must not all land on one endpoint. */
function hashText(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : stableHash32(text);
}
