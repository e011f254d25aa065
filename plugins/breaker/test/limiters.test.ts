import t from 'tap';
import {
  AutoConcurrencyLimiter, ConstantConcurrencyLimiter, DEFAULT_AUTO_LIMITER_SETTINGS, TokenBucket, type AutoLimiterSettings,
} from '../src/index.js';
import { CallerBuckets } from '../src/caller-buckets.js';
import { percentile, simulate, type Completion } from './fixtures/ps-sim.js';

const auto = (settings: Partial<AutoLimiterSettings> = {}, now = 0) =>
  new AutoConcurrencyLimiter({ ...DEFAULT_AUTO_LIMITER_SETTINGS, ...settings }, now, () => 0.5);

const between = (list: Completion[], from: number, to: number) => list.filter((c) => c.at >= from && c.at < to);

t.test('a token bucket admits its burst, then qps per second, and takes refunds', async (t) => {
  const bucket = new TokenBucket(1000, 10, 0);
  let admitted = 0;
  for (let i = 0; i < 50; i++) if (bucket.tryTake(0)) admitted++;
  t.equal(admitted, 10, 'the burst');
  // 3,000 attempts per second for 2 s, one every 1/3 ms.
  for (let i = 1; i <= 6000; i++) if (bucket.tryTake(i / 3)) admitted++;
  t.equal(admitted, 10 + 2000, 'exactly qps × seconds after the burst');
  t.notOk(bucket.tryTake(2000));
  bucket.refund();
  t.ok(bucket.tryTake(2000), 'a refunded token is there again');
  t.ok(bucket.isFull(2010) && bucket.available(2010) === 10, 'refilled, capped at the burst');
});

t.test('per-caller buckets are bounded: full ones go first, else the oldest', async (t) => {
  const buckets = new CallerBuckets({ qps: 1, burst: 2 }, { vip: { qps: 100, burst: 5 } }, 2);
  t.equal(buckets.bucketFor('vip', 0)!.qps, 100, 'a named caller gets its own rate');
  t.ok(buckets.bucketFor('a', 0)!.tryTake(0));
  buckets.bucketFor('b', 0); // over the bound: vip (full) is dropped, a (in use) stays
  t.equal(buckets.size, 2);
  t.ok(buckets.peek('a') && !buckets.peek('vip'));
  buckets.bucketFor('b', 0)!.tryTake(0);
  buckets.bucketFor('c', 0); // nobody is full: the oldest (a) goes
  t.same([!!buckets.peek('a'), !!buckets.peek('b'), !!buckets.peek('c')], [false, true, true]);
  t.equal(new CallerBuckets(undefined, { vip: { qps: 1 } }, 10).bucketFor('someone', 0), undefined, 'no perCaller: only named callers are limited');
});

t.test('a constant limiter holds a fixed number of calls in flight', async (t) => {
  const limiter = new ConstantConcurrencyLimiter(2);
  t.same([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()], [true, true, false]);
  limiter.release();
  t.ok(limiter.tryAcquire());
  limiter.cancel();
  t.equal(limiter.inflight, 1);
});

// The server of these simulations: 10 workers, 20 ms per call alone → capacity 500 calls/s.
const WORKERS = 10;
const SERVICE_MS = 20;
const CAPACITY = WORKERS / SERVICE_MS * 1000;

t.test('under 3× its capacity, the adaptive limiter keeps latency near no-load and goodput near capacity', async (t) => {
  const limiter = auto();
  const phases = [{ durationMs: 5000, qps: 0.3 * CAPACITY }, { durationMs: 20_000, qps: 3 * CAPACITY }];
  const limited = simulate({ workers: WORKERS, serviceMs: SERVICE_MS, phases, limiter });
  const steady = between(limited.completions, 10_000, 25_000);
  const p99 = percentile(steady.map((c) => c.latencyMs), 99);
  const goodput = steady.length / 15;
  t.ok(p99 <= 2 * SERVICE_MS, `p99 ${p99.toFixed(1)} ms within 2× the no-load ${SERVICE_MS} ms`);
  t.ok(goodput >= 0.9 * CAPACITY, `goodput ${goodput.toFixed(0)}/s ≥ 90 % of ${CAPACITY}/s`);
  t.ok(limited.rejected.length > 0.6 * 15 * 2 * CAPACITY, 'the excess was turned away');
  const snapshot = limiter.snapshot();
  t.ok(snapshot.minLatencyMs >= SERVICE_MS && snapshot.minLatencyMs < 1.1 * SERVICE_MS, `min latency ${snapshot.minLatencyMs} ≈ the no-load latency`);
  t.ok(snapshot.peakQps > 0.95 * CAPACITY && snapshot.peakQps < 1.1 * CAPACITY, `peak qps ${snapshot.peakQps.toFixed(0)} ≈ capacity`);
  t.ok(snapshot.limit >= WORKERS && snapshot.limit <= 2 * WORKERS, `limit ${snapshot.limit} just above the ${WORKERS} workers`);

  const unlimited = simulate({ workers: WORKERS, serviceMs: SERVICE_MS, phases });
  const p99s = [6, 8, 10, 12].map((s) => percentile(between(unlimited.completions, s * 1000, (s + 1) * 1000).map((c) => c.latencyMs), 99));
  t.ok(p99s.every((p, i) => i === 0 || p > p99s[i - 1]!), `without it p99 only grows: ${p99s.map((p) => p.toFixed(0)).join(' → ')} ms`);
  t.ok(p99s[3]! > 50 * SERVICE_MS);
});

t.test('the no-load latency is re-measured, so a server that got slower is not starved', async (t) => {
  const run = (remeasureIntervalMs: number) => {
    const limiter = auto({ remeasureIntervalMs });
    // Overloaded from 5 s on; at 15 s each call starts to need twice the work (a slower dependency).
    const result = simulate({
      workers: WORKERS, serviceMs: SERVICE_MS, limiter,
      phases: [
        { durationMs: 5000, qps: 0.3 * CAPACITY },
        { durationMs: 10_000, qps: 3 * CAPACITY },
        { durationMs: 30_000, qps: 3 * CAPACITY, serviceMs: 2 * SERVICE_MS },
      ],
    });
    const late = between(result.completions, 30_000, 45_000);
    return { limiter, goodput: late.length / 15, p99: percentile(late.map((c) => c.latencyMs), 99) };
  };
  const stale = run(1e9);
  const fresh = run(4000);
  t.ok(stale.limiter.snapshot().minLatencyMs < 1.1 * SERVICE_MS, 'without re-measuring, min latency stays at the old 20 ms');
  t.ok(fresh.limiter.snapshot().minLatencyMs > 1.5 * SERVICE_MS, `re-measured: ${fresh.limiter.snapshot().minLatencyMs.toFixed(1)} ms`);
  const capacity = CAPACITY / 2;
  t.ok(stale.goodput < 0.9 * capacity, `a stale estimate starves the server: ${stale.goodput.toFixed(0)}/s of ${capacity}/s`);
  t.ok(fresh.goodput >= 0.9 * capacity, `re-measured: ${fresh.goodput.toFixed(0)}/s of ${capacity}/s`);
  t.ok(fresh.p99 <= 2 * 2 * SERVICE_MS, `and p99 ${fresh.p99.toFixed(1)} ms within 2× the new no-load latency`);
});

t.test('windows without enough samples are discarded; all-failed windows halve the limit to the floor', async (t) => {
  const limiter = auto({ initialMaxConcurrency: 40, minConcurrency: 5 });
  let now = 0;
  for (let i = 0; i < 50; i++) {
    limiter.tryAcquire();
    limiter.release((now += 30), 5, false);
  }
  t.equal(limiter.limit, 40, '50 samples in 1.5 s: below minSamples, no update');
  const failing = auto({ initialMaxConcurrency: 40, minConcurrency: 5 });
  const limits: number[] = [];
  for (let w = 0; w < 5; w++) {
    for (let i = 0; i < 200; i++) {
      failing.tryAcquire();
      failing.release((now += 1), 5, true);
    }
    limits.push(failing.limit);
  }
  t.same(limits, [20, 10, 5, 5, 5]);
  const busy = auto({ initialMaxConcurrency: 2 });
  t.same([busy.tryAcquire(), busy.tryAcquire(), busy.tryAcquire()], [true, true, false]);
  busy.cancel();
  t.equal(busy.snapshot().inflight, 1);
});
