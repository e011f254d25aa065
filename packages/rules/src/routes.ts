import { Code, RpcError } from '@trellis/core';
import { Type } from '@trellis/core/toolkit';
import type { Schema } from './schema.js';

/** The document routers watch: `/trellis/config/{group}/{service}/routes`. */
export const ROUTES_DOCUMENT = 'routes';

/**
 * What a routing rule does when it selects no endpoint:
 * - `fail`: the call fails with UNAVAILABLE naming the rule (isolation holds even when it hurts);
 * - `next`: the next rule that matches decides, as if this one had not matched;
 * - `all`: the rule is ignored for this call and every endpoint stays eligible.
 */
export type OnEmpty = 'fail' | 'next' | 'all';

export const ON_EMPTY_VALUES: readonly OnEmpty[] = ['fail', 'next', 'all'];

export const ON_EMPTY_SCHEMA: Schema = Type.Union(ON_EMPTY_VALUES.map((value) => Type.Literal(value)));

/** The `fail` policy's error: never ran, so retry and transparent retry treat it as safe but futile. */
export function noEndpointError(rule: string, detail: string): RpcError {
  return new RpcError(Code.UNAVAILABLE, `route rule '${rule}' selected no endpoint: ${detail}`, { mayHaveRun: false });
}
