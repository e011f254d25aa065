/**
 * The last `capacity` completed calls of one endpoint, as brpc's `_time_q` (a BoundedQueue of
 * TimeInfo): each slot holds the running latency sum up to and including that call, and the call's
 * end time. Prefix sums make "average latency over the window" one subtraction, whatever the size.
 *
 * Times and latencies are integer microseconds, so every sum here is exact.
 */
export class LatencyRing {
  readonly capacity: number;
  private readonly latencySums: Float64Array;
  private readonly endTimes: Float64Array;
  /** Slot of the oldest entry (brpc's `top()`). */
  private head = 0;
  private count = 0;
  /**
   * The prefix sum of the slot just before the oldest one: what a lone remaining slot's own latency
   * is measured from, once aging (not in brpc) has dropped the slots before it. 0 for a fresh ring.
   */
  private droppedSum = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.latencySums = new Float64Array(capacity);
    this.endTimes = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Records one successful call; when full the oldest call falls out (brpc `elim_push`). */
  push(latencyUs: number, endUs: number): void {
    if (this.count === 0) this.droppedSum = 0;
    const base = this.count === 0 ? 0 : this.latencySums[this.newestSlot()]!;
    if (this.count === this.capacity) this.dropOldest();
    // head < capacity and count < capacity here: one subtraction wraps, no integer division.
    let slot = this.head + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    this.latencySums[slot] = base + latencyUs;
    this.endTimes[slot] = endUs;
    this.count++;
    this.rebaseIfLarge();
  }

  /**
   * Adds latency to the newest call without adding a call: brpc's treatment of errors, so an error
   * raises the average latency and, by moving the newest end time forward without adding a call,
   * lowers the qps. Requires a non-empty ring.
   */
  foldIntoNewest(latencyUs: number, endUs: number): void {
    const slot = this.newestSlot();
    this.latencySums[slot] = this.latencySums[slot]! + latencyUs;
    this.endTimes[slot] = endUs;
    this.rebaseIfLarge();
  }

  /**
   * Drops the calls that ended before `cutoffUs` (Trellis's sample age limit; brpc keeps a call
   * until 128 newer ones push it out, however old). Returns how many were dropped.
   */
  dropEndedBefore(cutoffUs: number): number {
    let dropped = 0;
    while (this.count > 0 && this.endTimes[this.head]! < cutoffUs) {
      this.dropOldest();
      dropped++;
    }
    return dropped;
  }

  /** The latency of the only call left (errors folded into it included). Requires size 1. */
  get onlyLatency(): number {
    return this.latencySums[this.head]! - this.droppedSum;
  }

  get oldestEndUs(): number {
    return this.endTimes[this.head]!;
  }

  get newestEndUs(): number {
    return this.endTimes[this.newestSlot()]!;
  }

  get oldestLatencySum(): number {
    return this.latencySums[this.head]!;
  }

  get newestLatencySum(): number {
    return this.latencySums[this.newestSlot()]!;
  }

  /**
   * The latencies of the calls after the oldest slot (newest sum − oldest sum): what the window's
   * average is taken over. One small number, where the two prefix sums outgrow a small integer
   * (and each would be boxed into a heap number on its way out of a call that is not inlined).
   */
  get windowLatencySum(): number {
    return this.latencySums[this.newestSlot()]! - this.latencySums[this.head]!;
  }

  /** Moves every end time `deltaUs` earlier (the balancer's epoch moved up by that much). */
  shiftTimes(deltaUs: number): void {
    for (let i = 0; i < this.count; i++) {
      let slot = this.head + i;
      if (slot >= this.capacity) slot -= this.capacity;
      this.endTimes[slot] = this.endTimes[slot]! - deltaUs;
    }
  }

  private dropOldest(): void {
    this.droppedSum = this.latencySums[this.head]!;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }

  /** Read several times per call: wrapped by a subtraction (head + count − 1 < 2 × capacity), not `%`. */
  private newestSlot(): number {
    const slot = this.head + this.count - 1;
    return slot >= this.capacity ? slot - this.capacity : slot;
  }

  /**
   * brpc's int64 prefix sums never need this; ours are doubles, exact only below 2^53. Only
   * differences between slots are ever read, so subtracting the same amount from all is free.
   */
  private rebaseIfLarge(): void {
    if (this.latencySums[this.newestSlot()]! < 2 ** 50) return;
    const offset = this.latencySums[this.head]!;
    this.droppedSum -= offset;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.capacity;
      this.latencySums[slot] = this.latencySums[slot]! - offset;
    }
  }
}
