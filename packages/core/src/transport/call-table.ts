/** Slots a table starts with, and the most it grows to (8 KiB of pointers). */
const MIN_SLOTS = 16;
const MAX_SLOTS = 1024;

/**
 * The unary calls in flight on one connection, by stream id, without hashing: ids are issued in
 * order, so the calls out at any moment occupy a sliding window of ids, and a table indexed by the
 * id's low bits holds them with no Map operation and no allocation per call (a Map's set/delete
 * churn rehashes its backing store every few hundred calls). The table doubles while it is at least
 * half full, up to 1024 slots; a call whose slot is still held by another one (a slow call that many
 * ids behind, or ids a peer chose to collide) waits in a Map beside it. One id is in the table once.
 */
export class CallTable<T extends { readonly streamId: number }> {
  private slots: (T | undefined)[] = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private readonly overflow = new Map<number, T>();
  size = 0;

  get(streamId: number): T | undefined {
    const call = this.slots[streamId & this.mask];
    if (call !== undefined && call.streamId === streamId) return call;
    return this.overflow.size === 0 ? undefined : this.overflow.get(streamId);
  }

  has(streamId: number): boolean {
    return this.get(streamId) !== undefined;
  }

  /** `call.streamId` must not be in the table (callers check with `get`, or issue the ids). */
  add(call: T): void {
    this.size++;
    this.place(call);
  }

  /** Removes `call` if it is the one held for its id; false when it was not in the table. */
  delete(call: T): boolean {
    const index = call.streamId & this.mask;
    if (this.slots[index] === call) {
      this.slots[index] = undefined;
    } else if (this.overflow.size === 0 || this.overflow.get(call.streamId) !== call) {
      return false;
    } else {
      this.overflow.delete(call.streamId);
    }
    this.size--;
    return true;
  }

  /** The calls in the table now (a copy: the caller may delete while it walks it). */
  values(): T[] {
    const all: T[] = [];
    for (const call of this.slots) if (call !== undefined) all.push(call);
    for (const call of this.overflow.values()) all.push(call);
    return all;
  }

  clear(): void {
    this.slots = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
    this.mask = MIN_SLOTS - 1;
    this.overflow.clear();
    this.size = 0;
  }

  private place(call: T): void {
    const index = call.streamId & this.mask;
    if (this.slots[index] === undefined) {
      this.slots[index] = call;
      return;
    }
    if (this.slots.length < MAX_SLOTS && this.size * 2 > this.slots.length) {
      this.grow();
      return this.place(call);
    }
    this.overflow.set(call.streamId, call);
  }

  private grow(): void {
    const calls = this.values();
    this.slots = new Array<T | undefined>(this.slots.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    this.overflow.clear();
    for (const call of calls) {
      const index = call.streamId & this.mask;
      if (this.slots[index] === undefined) this.slots[index] = call;
      else this.overflow.set(call.streamId, call);
    }
  }
}
