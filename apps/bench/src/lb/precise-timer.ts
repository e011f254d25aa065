/**
 * Delays whose median is the target, without busy waiting (see timer-worker.ts for why and how).
 * Waking a thread is never instant, and on a busy machine it takes 0.1–1 ms; so for each delay
 * length the timer keeps an offset, learned from whether the delays it served ended late or early,
 * and wakes up that much before the target. The median, not the mean: a stall of the whole machine
 * (tens of ms, now and then, when other work runs) hits every provider alike and no offset can undo
 * it. setTimeout cannot do this: its granularity is 1 ms. The pending delays sit in a binary heap
 * on the main thread; only the earliest wake-up time crosses to the worker.
 *
 * A provider that gets a call now and then (LALB's probes) would pay three thread wake-ups per
 * delay on that path (worker, its timeout, the main thread), each slow on a loaded machine. So a
 * delay that arrives with no other pending is served on the main thread: setTimeout for all but
 * the last 1.5 ms, then a setImmediate poll until the target. The poll keeps the event loop (and
 * I/O) running and costs up to 2 ms of CPU per lone call; busy providers never take it. Polling is
 * capped at MAX_POLLS_PER_SECOND: a provider that gets a steady trickle of calls (LALB's probe
 * share, a few hundred a second) would otherwise spin most of a core, on a machine whose two cores
 * the busy provider and the client need.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

interface Pending {
  /** When to wake up for it: the target minus the learned offset. */
  readonly due: number;
  readonly start: number;
  readonly ms: number;
  readonly resolve: () => void;
}

/** The offset's step per delay served (ms): it settles within a few hundred delays. */
const STEP_MS = 0.002;
/** Lone delays polled at once at most; more go to the worker. */
const MAX_POLLED = 2;
/** A polled delay sleeps in setTimeout until this long before its target (ms). */
const POLL_MS = 1.5;
/** Lone delays polled per second at most (≤ 2 ms of CPU each: at most 4 % of a core). */
const MAX_POLLS_PER_SECOND = 20;

const now = (): number => performance.timeOrigin + performance.now();

const bucketOf = (ms: number): number => Math.round(ms * 10);

export class PreciseTimer {
  private readonly sequence: Int32Array;
  private readonly published: Float64Array;
  private readonly worker: Worker;
  private readonly heap: Pending[] = [];
  /**
   * Per delay length, in 0.1 ms buckets (jittered delays have any length): how much earlier than the
   * target to wake up, ms.
   */
  private readonly offsets = new Map<number, number>();
  /** Lone delays served by polling on the main thread: [target, resolve]. */
  private readonly polled: [number, () => void][] = [];
  /** Delays on the polling path, in their setTimeout part or polled. */
  private lone = 0;
  private polling = false;
  /** Start of the current one-second polling budget, and the polls spent in it. */
  private budgetFrom = 0;
  private budgetSpent = 0;

  constructor() {
    const buffer = new SharedArrayBuffer(16);
    this.sequence = new Int32Array(buffer, 0, 1);
    this.published = new Float64Array(buffer, 8, 1);
    this.worker = new Worker(join(__dirname, 'timer-worker.js'), { workerData: { buffer } });
    this.worker.on('message', () => this.fire());
    // The provider's server keeps the process alive; the timer must not.
    this.worker.unref();
  }

  delay(ms: number): Promise<void> {
    if (this.heap.length === 0 && this.lone < MAX_POLLED && this.takePollBudget()) return this.poll(ms);
    return new Promise((resolve) => {
      const start = now();
      const due = start + ms - (this.offsets.get(bucketOf(ms)) ?? 0);
      this.push({ due, start, ms, resolve });
      // Only an earlier due time needs the worker's attention; later ones wait their turn.
      if (this.heap[0]!.due === due) this.publish(due);
    });
  }

  private takePollBudget(): boolean {
    const t = now();
    if (t - this.budgetFrom >= 1000) {
      this.budgetFrom = t;
      this.budgetSpent = 0;
    }
    if (this.budgetSpent >= MAX_POLLS_PER_SECOND) return false;
    this.budgetSpent++;
    return true;
  }

  private poll(ms: number): Promise<void> {
    this.lone++;
    return new Promise((resolve) => {
      const target = now() + ms;
      const begin = () => {
        this.polled.push([target, resolve]);
        if (!this.polling) {
          this.polling = true;
          setImmediate(this.check);
        }
      };
      if (ms > POLL_MS + 1) setTimeout(begin, Math.floor(ms - POLL_MS));
      else begin();
    });
  }

  private readonly check = (): void => {
    const t = now();
    for (let i = this.polled.length - 1; i >= 0; i--) {
      const [target, resolve] = this.polled[i]!;
      if (t < target) continue;
      this.polled.splice(i, 1);
      this.lone--;
      resolve();
    }
    if (this.polled.length > 0) setImmediate(this.check);
    else this.polling = false;
  };

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private fire(): void {
    const t = now();
    while (this.heap.length > 0 && this.heap[0]!.due <= t + 0.02) {
      const item = this.pop();
      const bucket = bucketOf(item.ms);
      const offset = this.offsets.get(bucket) ?? 0;
      // Late: wake a little earlier next time; early: a little later (never before the start).
      // Steps of a fixed size converge on the offset that makes half the delays late: the median.
      const late = t - item.start > item.ms;
      this.offsets.set(bucket, Math.max(0, Math.min(item.ms, offset + (late ? STEP_MS : -STEP_MS))));
      item.resolve();
    }
    this.publish(this.heap.length > 0 ? this.heap[0]!.due : 0);
  }

  private publish(due: number): void {
    this.published[0] = due;
    Atomics.add(this.sequence, 0, 1);
    Atomics.notify(this.sequence, 0);
  }

  private push(item: Pending): void {
    const heap = this.heap;
    let i = heap.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.due <= item.due) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): Pending {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && heap[right]!.due < heap[left]!.due ? right : left;
        if (heap[child]!.due >= last.due) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
