/**
 * One timer for all deadlines instead of a setTimeout per call: entries go into 5 ms buckets, and a
 * single unref'd timer is armed for the earliest bucket. Adding and removing are O(1) set operations;
 * a call that completes in time costs no timer work at all.
 */
export interface DeadlineEntry {
  /** Bucket key, owned by the timer. */
  bucket: number;
  onDeadline(): void;
}

const RESOLUTION_MS = 5;
/** setTimeout's limit: a longer delay overflows and fires at once (TimeoutOverflowWarning). */
const MAX_DELAY_MS = 2_147_483_647;

export class DeadlineTimer {
  private readonly buckets = new Map<number, Set<DeadlineEntry>>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private readonly fireBound = (): void => this.fire();
  /**
   * The bucket used last: calls made close together (a batch, one 5 ms window) share their deadline
   * bucket, and most calls end in the order they started, so this saves the Map lookup on both sides.
   */
  private lastKey = NaN;
  private lastSet: Set<DeadlineEntry> | undefined;

  constructor(private readonly now: () => number) {}

  add(entry: DeadlineEntry, deadline: number): void {
    const key = Math.ceil(deadline / RESOLUTION_MS);
    entry.bucket = key;
    let set = key === this.lastKey ? this.lastSet : this.buckets.get(key);
    if (set === undefined) this.buckets.set(key, (set = new Set()));
    this.lastKey = key;
    this.lastSet = set;
    set.add(entry);
    if (key < this.armedFor) this.arm(key);
  }

  remove(entry: DeadlineEntry): void {
    const key = entry.bucket;
    const set = key === this.lastKey ? this.lastSet : this.buckets.get(key);
    if (set !== undefined && set.delete(entry) && set.size === 0) this.dropBucket(key);
  }

  private dropBucket(key: number): void {
    this.buckets.delete(key);
    if (key === this.lastKey) {
      this.lastKey = NaN;
      this.lastSet = undefined;
    }
  }

  private arm(key: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = key;
    // A deadline past setTimeout's range (a peer may send any uint32 timeout) waits in steps: firing
    // early expires nothing and re-arms for what is left.
    this.timer = setTimeout(this.fireBound, Math.min(MAX_DELAY_MS, Math.max(0, key * RESOLUTION_MS - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const nowKey = Math.floor(this.now() / RESOLUTION_MS);
    let next = Infinity;
    const expired: DeadlineEntry[] = [];
    for (const [key, set] of this.buckets) {
      if (key <= nowKey) {
        this.dropBucket(key);
        for (const entry of set) expired.push(entry);
      } else if (key < next) {
        next = key;
      }
    }
    if (next !== Infinity) this.arm(next);
    for (const entry of expired) {
      try {
        entry.onDeadline();
      } catch {
        // A failing callback must not stop the others from expiring.
      }
    }
  }
}
