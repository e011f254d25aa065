/**
 * What the balancer needs from a consistent-hash table, ring or Maglev alike: where a key's hash
 * lands, the endpoint at a position, and the next position to try when that endpoint cannot take
 * the call (excluded by a retry, or full under bounded load). Walking from a key's position gives
 * every key its own fixed order of endpoints, so a retry or an overflow also goes to the same place
 * for the same key.
 */
export interface HashTable {
  /** Positions in the table. */
  readonly size: number;
  /** The position a key hash (uint32) lands on. */
  locate(hash: number): number;
  /** The endpoint at a position: the `index` of the TableMember there. */
  ownerAt(position: number): number;
  /** The next position in walking order (wraps around). */
  next(position: number): number;
  /** Each member's fraction of the 32-bit hash space, by `index` (an array of `length`). */
  keyShares(length: number): Float64Array;
}

/** One member of a table: a stable id to hash, a weight (> 0), and the index ownerAt reports. */
export interface TableMember {
  readonly id: string;
  readonly weight: number;
  readonly index: number;
}
