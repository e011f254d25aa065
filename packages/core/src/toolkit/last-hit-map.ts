/** Any value but `undefined`. */
type Defined = string | number | bigint | boolean | symbol | object | null;

/**
 * A Map that remembers the entry it found last and answers a look-up of the same key again with an
 * identity comparison instead of the Map's hash look-up. Why: on a plugin's hot path a run of calls
 * mostly asks for the same method's or endpoint's record again and again (a call's start and end,
 * an attempt's start and end, the next call to the same method): the record is then one `===` away.
 * The breaker, limiter, health, auth, metrics and retry plugins each used to keep their own pair of
 * "last key / last value" fields for this; this is the one copy, and the one place that forgets the
 * remembered entry when it leaves the Map (a stale hit after `delete` would hand out a record the
 * owner dropped).
 *
 * Measured cost (docs/performance.md, "Governance path, session 11 (look-up memo)"): nothing
 * allocated on a hit or a miss (bytes per call unchanged against the inline copies, client and
 * server); a hit ≈ 2–3 ns against ≈ 6 ns for `Map#get` of the same string key, the same as an
 * inline pair of fields (a micro-benchmark, CPU time, min of 7 rounds), and no slower after `get`
 * had seen string, object and symbol keys (one class serves every site: its `===` is shared).
 *
 * Neither keys nor values may be `undefined`: an undefined `lastKey` means "nothing remembered" (so a
 * hit costs one comparison, as the inline copies did), and an undefined value is how `get` says
 * "absent". `null` is a value like any other. The remembered key is compared with `===` (the Map uses
 * SameValueZero: they differ only for NaN, which then misses the memo and is found in the Map).
 */
export class LastHitMap<K extends Defined, V extends Defined> {
  private readonly map = new Map<K, V>();
  /** The entry found or set last; both undefined while nothing is remembered. */
  private lastKey: K | undefined = undefined;
  private lastValue: V | undefined = undefined;

  get size(): number {
    return this.map.size;
  }

  /** The value of `key`, or undefined when it is absent; a found entry is remembered. */
  get(key: K): V | undefined {
    if (key === this.lastKey) return this.lastValue;
    const value = this.map.get(key);
    if (value !== undefined) {
      this.lastKey = key;
      this.lastValue = value;
    }
    return value;
  }

  has(key: K): boolean {
    return key === this.lastKey || this.map.has(key);
  }

  /** Adds or replaces `key`'s value; the entry is remembered (it is usually asked for next). */
  set(key: K, value: V): this {
    this.map.set(key, value);
    this.lastKey = key;
    this.lastValue = value;
    return this;
  }

  /** Removes `key`; the remembered entry is forgotten if it was that one. */
  delete(key: K): boolean {
    if (key === this.lastKey) this.forget();
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.forget();
  }

  keys(): MapIterator<K> {
    return this.map.keys();
  }

  values(): MapIterator<V> {
    return this.map.values();
  }

  entries(): MapIterator<[K, V]> {
    return this.map.entries();
  }

  /** Iterating while deleting is safe, as for a Map (each `delete` forgets what it must). */
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.map.entries();
  }

  private forget(): void {
    this.lastKey = undefined;
    this.lastValue = undefined;
  }
}
