/**
 * Percentage routing needs a hash that is stable — the same value lands in the same bucket in every
 * process, on every version, in any language — and spreads sequential ids evenly: the stable hash of
 * @trellis/rules (FNV-1a over the UTF-8 bytes, then murmur3's finalizer), whose low bits `% 10000`
 * reads.
 */
import { stableHash32 } from '@trellis/rules';

/** Buckets per 100 %: percentages have a resolution of 0.01 %. */
export const BUCKETS = 10_000;

/**
 * The bucket (0 … 9999) a value falls in: `mix32(fnv1a32(salt ? salt + ":" + value : value)) % 10000`.
 * A `percent: p` condition matches buckets below `p × 100`.
 */
export function bucketOf(value: string, salt = ''): number {
  return stableHash32(salt === '' ? value : `${salt}:${value}`) % BUCKETS;
}
