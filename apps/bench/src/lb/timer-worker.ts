/**
 * The worker half of PreciseTimer. Node's timers have 1 ms granularity (setTimeout(1) takes
 * 1.2–1.6 ms on average, setTimeout(3) 3.2–3.7 ms), which bends a 1 : 2 : 3 ms service-time ratio. This thread
 * sleeps with Atomics.wait, whose timeout is fractional, until the earliest due time the main thread
 * published, then pings the main thread, whose event loop wakes on the message at once. It never
 * spins: between due times it is blocked in the kernel.
 *
 * Shared layout: Int32 [0] = sequence number (bumped by the main thread on every publish),
 * Float64 at byte 8 = earliest due time in absolute ms (timeOrigin + now), 0 = nothing pending.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

const { buffer } = workerData as { buffer: SharedArrayBuffer };
const sequence = new Int32Array(buffer, 0, 1);
const due = new Float64Array(buffer, 8, 1);
/** Closer than this is "now": a shorter wait costs more in wake-up latency than it gains. */
const SLACK_MS = 0.02;

const now = (): number => performance.timeOrigin + performance.now();

for (;;) {
  const seen = Atomics.load(sequence, 0);
  const target = due[0]!;
  if (target === 0) {
    Atomics.wait(sequence, 0, seen);
    continue;
  }
  const wait = target - now();
  if (wait > SLACK_MS) {
    // Returns early when the main thread publishes an earlier due time; then look again.
    Atomics.wait(sequence, 0, seen, wait);
    continue;
  }
  parentPort!.postMessage(0);
  // Ping once per published due time: the main thread answers every ping with a new publish.
  Atomics.wait(sequence, 0, seen);
}
