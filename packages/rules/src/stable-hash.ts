/**
 * A hash of request values that is stable: the same text gives the same number in every process, on
 * every version, in any language, and sequential ids spread evenly. FNV-1a (32 bit) over the UTF-8
 * bytes is simple to reimplement anywhere; murmur3's finalizer then mixes its high bits into the low
 * ones. Shared by router-param (percentage buckets) and lb-hash (hash keys and ring points).
 */

/** FNV-1a's offset basis: the hash of the empty text. */
export const FNV1A32_OFFSET = 0x811c9dc5;

/**
 * FNV-1a (32 bit) of `text`'s UTF-8 bytes. `from` continues a hash: fnv1a32(b, fnv1a32(a)) equals
 * fnv1a32(a + b) (unless a surrogate pair is split between a and b), so many texts with a common
 * prefix are hashed without rebuilding it.
 */
export function fnv1a32(text: string, from: number = FNV1A32_OFFSET): number {
  let hash = from;
  for (let i = 0; i < text.length; i++) {
    let unit = text.charCodeAt(i);
    // UTF-8 encode on the fly: no Buffer per call.
    if (unit < 0x80) {
      hash = Math.imul(hash ^ unit, 0x01000193);
      continue;
    }
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        i++;
        unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) unit = 0xfffd; // a lone surrogate encodes as U+FFFD
    let bytes: number[];
    if (unit < 0x800) bytes = [0xc0 | (unit >> 6), 0x80 | (unit & 0x3f)];
    else if (unit < 0x10000) bytes = [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
    else bytes = [0xf0 | (unit >> 18), 0x80 | ((unit >> 12) & 0x3f), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
    for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return hash >>> 0;
}

/** murmur3's fmix32. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `mix32(fnv1a32(text))`: the stable hash of a value, uniform over 32 bits. */
export function stableHash32(text: string): number {
  return mix32(fnv1a32(text));
}
