import { stableHash32 } from '@trellis/rules';
import type { HashTable, TableMember } from './hash-table.js';

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016), with Envoy's weighting: a lookup table of a prime
 * size M, filled by letting every endpoint claim slots in turn along its own permutation
 * (offset + i × skip) mod M, an endpoint of weight w taking a turn in proportion to w. A key goes to
 * table[hash mod M]: a lookup is one modulo and one read. Each endpoint gets nearly the same share
 * of slots (closer than a ring of the same memory), at the price of slightly more keys moving when
 * endpoints come and go (measured in the tests).
 *
 * Walking order for retries and bounded load is the next slot: neighbouring slots belong to
 * unrelated endpoints, so a key's fallbacks are spread over the others.
 */
export class MaglevTable implements HashTable {
  private readonly table: Int32Array;

  constructor(members: readonly TableMember[], tableSize: number) {
    const m = tableSize;
    const table = new Int32Array(m).fill(-1);
    let maxWeight = 0;
    for (const member of members) maxWeight = Math.max(maxWeight, member.weight);
    const offset = new Float64Array(members.length);
    const skip = new Float64Array(members.length);
    const next = new Float64Array(members.length);
    const weight = new Float64Array(members.length);
    const target = new Float64Array(members.length);
    members.forEach((member, i) => {
      offset[i] = stableHash32(`${member.id}#offset`) % m;
      skip[i] = (stableHash32(`${member.id}#skip`) % (m - 1)) + 1;
      weight[i] = member.weight / maxWeight;
    });
    let filled = 0;
    for (let round = 1; filled < m; round++) {
      for (let i = 0; i < members.length && filled < m; i++) {
        // An endpoint at the highest weight takes a turn every round, one at half of it every other.
        if (round * weight[i]! < target[i]!) continue;
        target[i]! += 1;
        let slot = (offset[i]! + skip[i]! * next[i]!) % m;
        while (table[slot]! >= 0) {
          next[i]!++;
          slot = (offset[i]! + skip[i]! * next[i]!) % m;
        }
        table[slot] = members[i]!.index;
        next[i]!++;
        filled++;
      }
    }
    this.table = table;
  }

  get size(): number {
    return this.table.length;
  }

  locate(hash: number): number {
    return hash % this.table.length;
  }

  ownerAt(position: number): number {
    return this.table[position]!;
  }

  next(position: number): number {
    return position + 1 === this.table.length ? 0 : position + 1;
  }

  keyShares(length: number): Float64Array {
    const shares = new Float64Array(length);
    // hash mod M: each slot gets ⌊2^32 / M⌋ or one more of the hashes; 1 / M is exact to 2^-16.
    for (const owner of this.table) shares[owner]! += 1 / this.table.length;
    return shares;
  }
}

/** Envoy's default table size: a prime, ~65 slots per endpoint at 1,000 endpoints. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
