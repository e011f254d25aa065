import type { Invocation } from '@trellis/core';
import { invalidOption, Type, parseOptions } from '@trellis/core/toolkit';
import { FIELD_PATH_FORMAT } from '@trellis/rules';
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime } from './maglev.js';

/** Per endpoint at the mean weight on the ring: ketama's and Dubbo's 160. */
export const DEFAULT_VIRTUAL_NODES = 160;
/** Mirrokni et al.'s ε: no endpoint takes more than (1 + ε) × the mean load. */
export const DEFAULT_EPSILON = 0.25;

const OWNER = 'lb-hash';
const TABLE_SIZE = 'a prime from 3 to 10 000 019, about 100 × the endpoints or more (Envoy: 65 537)';

export type HashAlgorithm = 'ring' | 'maglev';

export interface HashKeyOptions {
  /** The hash key is this request field, by path: `'user.id'`, `'items[0].sku'`. */
  readonly field?: string;
  /** The hash key is this call metadata key (lower-cased), as router-param's `header`. */
  readonly header?: string;
  /**
   * The hash key is what this returns (a string or a number; undefined = no key). Runs on every
   * call: keep it to a few property reads.
   */
  readonly key?: (invocation: Invocation) => string | number | undefined;
}

export interface ConsistentHashOptions extends HashKeyOptions {
  /** `'ring'` (ketama; default) or `'maglev'`. */
  readonly algorithm?: HashAlgorithm;
  /** Ring points per endpoint at the mean weight (ring only). Default 160. */
  readonly virtualNodes?: number;
  /** Lookup table size, a prime (maglev only). Default 65 537. */
  readonly tableSize?: number;
  /**
   * Bounded load (Mirrokni et al.): an endpoint already holding (1 + epsilon) × the mean number of
   * calls in flight (by weight) passes the call on along the key's walking order. Default
   * `{ epsilon: 0.25 }`; `false` = plain consistent hashing, however hot a key.
   */
  readonly boundedLoad?: false | { readonly epsilon?: number };
  /** A call without a key: `'random'` (default) spreads it as a random key; `'fail'` fails it (INVALID_ARGUMENT). */
  readonly onMissingKey?: 'random' | 'fail';
  /** Uniform in [0, 1), for keyless calls. Default `Math.random`. */
  readonly random?: () => number;
}

export interface ResolvedHashOptions {
  readonly key: HashKeyOptions;
  readonly algorithm: HashAlgorithm;
  readonly virtualNodes: number;
  readonly tableSize: number;
  /** Infinity = no bound. */
  readonly epsilon: number;
  readonly onMissingKey: 'random' | 'fail';
  readonly random: () => number;
}

const HashOptionsSchema = Type.Object({
  field: Type.Optional(Type.String({ format: FIELD_PATH_FORMAT, description: "a request field path such as 'user.id'" })),
  header: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,256}$', description: 'a metadata key: letters, digits, ".", "_" and "-"' })),
  key: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function (invocation) => string | number | undefined' })),
  algorithm: Type.Optional(Type.Union([Type.Literal('ring'), Type.Literal('maglev')], { description: "'ring' or 'maglev'" })),
  virtualNodes: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'an integer from 1 to 10 000 (ketama: 160)' })),
  tableSize: Type.Optional(Type.Integer({ minimum: 3, maximum: 10_000_019, description: TABLE_SIZE })),
  boundedLoad: Type.Optional(Type.Union([
    Type.Literal(false),
    Type.Object({ epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a number > 0 (0.25: no endpoint above 1.25 × the mean load)' })) }, { additionalProperties: false }),
  ], { description: 'false or { epsilon }' })),
  onMissingKey: Type.Optional(Type.Union([Type.Literal('random'), Type.Literal('fail')], { description: "'random' or 'fail'" })),
  random: Type.Optional(Type.Function([], Type.Number(), { description: 'a function returning [0, 1)' })),
}, { additionalProperties: false }); // a typo is refused, not ignored in silence

/** Fills defaults and rejects bad values at construction, with a sentence saying what to pass. */
export function resolveHashOptions(options: ConsistentHashOptions): ResolvedHashOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', options, "an object with one of field ('user.id'), header or key (a function)", OWNER);
  }
  parseOptions(HashOptionsSchema, options, OWNER);
  const {
    field, header, key,
    algorithm = 'ring',
    virtualNodes = DEFAULT_VIRTUAL_NODES,
    tableSize = DEFAULT_MAGLEV_TABLE_SIZE,
    boundedLoad = {},
    onMissingKey = 'random',
    random = Math.random,
  } = options;
  const given = [field, header, key].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw invalidOption('field/header/key', { field, header, key: key === undefined ? undefined : 'a function' }, 'exactly one of them: a request field path, a metadata key, or a function of the call', OWNER);
  }
  if (!isPrime(tableSize)) throw invalidOption('tableSize', tableSize, TABLE_SIZE, OWNER);
  const epsilon = boundedLoad === false ? Number.POSITIVE_INFINITY : boundedLoad.epsilon ?? DEFAULT_EPSILON;
  return { key: { field, header, key }, algorithm, virtualNodes, tableSize, epsilon, onMissingKey, random };
}
