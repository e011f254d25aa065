/**
 * One timer for all deadlines instead of a setTimeout per call: entries go into 5 ms buckets, and a
 * single unref'd timer is armed for the earliest bucket. A bucket is a list threaded through its
 * entries (`timerPrev`/`timerNext`), so adding and removing are a few pointer writes — no Set to
 * hash into or grow per bucket; a call that completes in time costs no timer work at all.
 */
export interface DeadlineEntry {
  /** Owned by the timer: the bucket the entry is in (start it at 0). */
  bucket: DeadlineBucket | number;
  /** Owned by the timer: the entry's neighbours in its bucket (declare them, or the timer adds them). */
  timerPrev?: DeadlineEntry | undefined;
  timerNext?: DeadlineEntry | undefined;
  onDeadline(): void;
}

/** The entries whose deadlines fall in one 5 ms window. */
export class DeadlineBucket {
  head: DeadlineEntry | undefined = undefined;
  constructor(readonly key: number) {}
}

const RESOLUTION_MS = 5;
/** setTimeout's limit: a longer delay overflows and fires at once (TimeoutOverflowWarning). */
const MAX_DELAY_MS = 2_147_483_647;

export class DeadlineTimer {
  private readonly buckets = new Map<number, DeadlineBucket>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private readonly fireBound = (): void => this.fire();
  /**
   * The bucket used last: calls made close together (a batch, one 5 ms window) share their deadline
   * bucket, so this saves the Map lookup of most adds.
   */
  private last: DeadlineBucket | undefined;

  constructor(private readonly now: () => number) {}

  add(entry: DeadlineEntry, deadline: number): void {
    if (typeof entry.bucket === 'object') this.remove(entry); // added again: it moves
    const key = Math.ceil(deadline / RESOLUTION_MS);
    let bucket = this.last !== undefined && this.last.key === key ? this.last : this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, (bucket = new DeadlineBucket(key)));
    this.last = bucket;
    const head = bucket.head;
    entry.timerPrev = undefined;
    entry.timerNext = head;
    if (head !== undefined) head.timerPrev = entry;
    bucket.head = entry;
    entry.bucket = bucket;
    if (key < this.armedFor) this.arm(key);
  }

  /** Takes the entry out (no-op when it is not in: expired, removed, never added). */
  remove(entry: DeadlineEntry): void {
    const bucket = entry.bucket;
    if (typeof bucket !== 'object') return;
    const prev = entry.timerPrev;
    const next = entry.timerNext;
    if (prev !== undefined) prev.timerNext = next;
    else bucket.head = next;
    if (next !== undefined) next.timerPrev = prev;
    entry.timerPrev = undefined;
    entry.timerNext = undefined;
    entry.bucket = 0;
    if (bucket.head === undefined) this.dropBucket(bucket);
  }

  private dropBucket(bucket: DeadlineBucket): void {
    if (this.buckets.get(bucket.key) === bucket) this.buckets.delete(bucket.key);
    if (this.last === bucket) this.last = undefined;
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
    for (const [key, bucket] of this.buckets) {
      if (key <= nowKey) {
        this.dropBucket(bucket);
        for (let entry = bucket.head; entry !== undefined;) {
          const following = entry.timerNext;
          entry.timerPrev = undefined;
          entry.timerNext = undefined;
          entry.bucket = 0;
          expired.push(entry);
          entry = following;
        }
        bucket.head = undefined;
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
