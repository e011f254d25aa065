import type { Invocation } from '@trellis/core';
import { invalidOption } from '@trellis/core/spi';
import { fieldPathProblem } from '@trellis/rules';
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime } from './maglev.js';

/** Per endpoint at the mean weight on the ring: ketama's and Dubbo's 160. */
export const DEFAULT_VIRTUAL_NODES = 160;
/** Mirrokni et al.'s ε: no endpoint takes more than (1 + ε) × the mean load. */
export const DEFAULT_EPSILON = 0.25;

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

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Fills defaults and rejects bad values at construction, with a sentence saying what to pass. */
export function resolveHashOptions(options: ConsistentHashOptions): ResolvedHashOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', options, "an object with one of field ('user.id'), header or key (a function)");
  }
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
    throw invalidOption('field/header/key', { field, header, key: key === undefined ? undefined : 'a function' }, 'exactly one of them: a request field path, a metadata key, or a function of the call');
  }
  if (field !== undefined) {
    const problem = typeof field === 'string' ? fieldPathProblem(field) : 'not a string';
    if (problem !== undefined) throw invalidOption('field', field, `a request field path such as 'user.id' (${problem})`);
  }
  if (header !== undefined && !(typeof header === 'string' && /^[A-Za-z0-9._-]{1,256}$/.test(header))) {
    throw invalidOption('header', header, 'a metadata key: letters, digits, ".", "_" and "-"');
  }
  if (key !== undefined && typeof key !== 'function') throw invalidOption('key', key, 'a function (invocation) => string | number | undefined');
  if (algorithm !== 'ring' && algorithm !== 'maglev') throw invalidOption('algorithm', algorithm, "'ring' or 'maglev'");
  if (!isInteger(virtualNodes, 1, 10_000)) throw invalidOption('virtualNodes', virtualNodes, 'an integer from 1 to 10 000 (ketama: 160)');
  if (!(isInteger(tableSize, 3, 10_000_019) && isPrime(tableSize))) {
    throw invalidOption('tableSize', tableSize, 'a prime from 3 to 10 000 019, about 100 × the endpoints or more (Envoy: 65 537)');
  }
  let epsilon = Number.POSITIVE_INFINITY;
  if (boundedLoad !== false) {
    if (typeof boundedLoad !== 'object' || boundedLoad === null) throw invalidOption('boundedLoad', boundedLoad, 'false or { epsilon }');
    epsilon = boundedLoad.epsilon ?? DEFAULT_EPSILON;
    if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) {
      throw invalidOption('boundedLoad.epsilon', epsilon, 'a number > 0 (0.25: no endpoint above 1.25 × the mean load)');
    }
  }
  if (onMissingKey !== 'random' && onMissingKey !== 'fail') throw invalidOption('onMissingKey', onMissingKey, "'random' or 'fail'");
  if (typeof random !== 'function') throw invalidOption('random', random, 'a function returning [0, 1)');
  return { key: { field, header, key }, algorithm, virtualNodes, tableSize, epsilon, onMissingKey, random };
}
