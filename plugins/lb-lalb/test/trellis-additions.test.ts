/**
 * Trellis's three additions to brpc's LALB, at their defaults: the rate floor (`minQpsRatio`), the
 * sample age limit (`maxSampleAgeMs`) and the compressed rate term (`rateExponent`). Each behaviour
 * is checked against brpc's exact algorithm (BRPC_EXACT_OPTIONS) in the same virtual-time closed
 * loop, so every test here shows what the addition changes and fails if it stops doing so.
 */
import t from 'tap';
import { Code, RpcError, type Pick } from '@trellis/core';
import type { Endpoint } from '@trellis/core/spi';
import { ClosedLoop as SharedLoop, FakeClock as Clock, seededRandom, sharesOf } from '@trellis/testkit';
import {
  BRPC_EXACT_OPTIONS,
  DEFAULT_MAX_SAMPLE_AGE_MS,
  DEFAULT_MIN_QPS_RATIO,
  DEFAULT_RATE_EXPONENT,
  LocalityAwareBalancer,
  WEIGHT_SCALE,
  type LalbOptions,
} from '../src/index.js';
import { EndpointStats } from '../src/endpoint-stats.js';
import { FakeClock, endpoint, invocation, only, rowOf, seeded } from './fixtures/sim.js';

const TIMEOUT_MS = 500;

interface Call {
  readonly start: number;
  readonly id: string;
  readonly pick: Pick;
  end: number;
  failed: boolean;
}

/**
 * `callers` callers in a closed loop on a virtual clock, each endpoint answering after its latency
 * (+ 0.1 ms). A frozen endpoint answers nothing: its calls fail at the 500 ms timeout, or are
 * answered once it is thawed. Time only moves forward across `run()` calls.
 */
class ClosedLoop {
  readonly clock = new FakeClock(0);
  readonly balancer: LocalityAwareBalancer;
  latencyMs: Record<string, number>;
  frozen: string | undefined;
  private frozenUntil = Number.POSITIVE_INFINITY;
  private readonly calls: Call[] = [];

  constructor(
    readonly list: readonly Endpoint[],
    latencyMs: Record<string, number>,
    options: LalbOptions,
    private readonly callers = 30,
  ) {
    this.latencyMs = { ...latencyMs };
    this.balancer = new LocalityAwareBalancer({ clock: this.clock, random: seeded(11), ...options });
  }

  freeze(id: string): void {
    this.frozen = id;
    this.frozenUntil = Number.POSITIVE_INFINITY;
  }

  thaw(): void {
    this.frozenUntil = this.clock.now();
  }

  /** Runs for `ms`; returns the calls started per endpoint in each `binMs` bin. */
  run(ms: number, binMs = 100): Map<string, number>[] {
    const until = this.clock.now() + ms;
    const bins: Map<string, number>[] = [];
    const from = this.clock.now();
    while (this.calls.length < this.callers) this.issue(bins, from, binMs);
    for (;;) {
      let next = 0;
      for (let i = 1; i < this.calls.length; i++) if (this.calls[i]!.end < this.calls[next]!.end) next = i;
      const call = this.calls[next]!;
      if (call.end > until) break;
      this.clock.set(call.end);
      const now = call.end;
      if (call.id === this.frozen && !call.failed && now < this.frozenUntil + 0.1 && call.start + TIMEOUT_MS > now) {
        // Frozen: answered after the thaw, unless the caller's timeout comes first.
        call.failed = call.start + TIMEOUT_MS <= this.frozenUntil;
        call.end = call.failed ? call.start + TIMEOUT_MS : this.frozenUntil + this.latencyMs[call.id]! + 0.1;
        continue;
      }
      this.calls.splice(next, 1);
      const latencyMs = now - call.start;
      call.pick.done(
        call.failed
          ? { latencyMs, error: new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded', { mayHaveRun: true }) }
          : { latencyMs },
      );
      this.issue(bins, from, binMs);
    }
    this.clock.set(until);
    return bins;
  }

  private issue(bins: Map<string, number>[], from: number, binMs: number): void {
    const now = this.clock.now();
    const pick = this.balancer.pick(this.list, invocation({ deadline: now + TIMEOUT_MS }))!;
    const id = pick.endpoint.id;
    this.calls.push({ start: now, id, pick, end: now + this.latencyMs[id]! + 0.1, failed: false });
    const bin = Math.floor((now - from) / binMs);
    while (bins.length <= bin) bins.push(new Map());
    bins[bin]!.set(id, (bins[bin]!.get(id) ?? 0) + 1);
  }
}

function shareOf(bins: readonly Map<string, number>[], id: string): number {
  let mine = 0;
  let all = 0;
  for (const bin of bins) {
    for (const [key, count] of bin) {
      all += count;
      if (key === id) mine += count;
    }
  }
  return all === 0 ? 0 : mine / all;
}

/** ms from the start of `bins` until `id` had more than half of a bin's calls, or Infinity. */
function majorityAfter(bins: readonly Map<string, number>[], id: string, binMs = 100): number {
  const at = bins.findIndex((bin) => shareOf([bin], id) > 0.5);
  return at < 0 ? Number.POSITIVE_INFINITY : at * binMs;
}

const ABC = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
const FAST_FIRST = { 'a:1': 1, 'b:1': 2, 'c:1': 3 };
const REVERSED = { 'a:1': 3, 'b:1': 2, 'c:1': 1 };

t.test('the defaults are the additions on, and BRPC_EXACT_OPTIONS turns them off', (t) => {
  t.equal(DEFAULT_MIN_QPS_RATIO, 0.05);
  t.equal(DEFAULT_MAX_SAMPLE_AGE_MS, 5000);
  t.equal(DEFAULT_RATE_EXPONENT, 0.8);
  t.same(BRPC_EXACT_OPTIONS, { minQpsRatio: 0, maxSampleAgeMs: Number.POSITIVE_INFINITY, rateExponent: 1 });
  t.end();
});

t.test('steady state: what the slower endpoints keep (probes, and the compressed rate term) costs little', (t) => {
  const calls = (bins: Map<string, number>[]) => bins.reduce((sum, bin) => sum + [...bin.values()].reduce((a, b) => a + b, 0), 0);
  const trellis = new ClosedLoop(ABC, FAST_FIRST, {});
  trellis.run(3000);
  const bins = trellis.run(5000);
  const brpc = new ClosedLoop(ABC, FAST_FIRST, BRPC_EXACT_OPTIONS);
  brpc.run(3000);
  const brpcBins = brpc.run(5000);
  const slower = shareOf(bins, 'b:1') + shareOf(bins, 'c:1');
  t.ok(slower > 0, `the slower endpoints still get calls (${(slower * 100).toFixed(2)} %)`);
  t.ok(slower < 0.06, `under 6 % of them (brpc: ${((shareOf(brpcBins, 'b:1') + shareOf(brpcBins, 'c:1')) * 100).toFixed(2)} %)`);
  const ratio = calls(bins) / calls(brpcBins);
  t.ok(ratio > 0.94, `throughput ${(ratio * 100).toFixed(1)} % of brpc's exact algorithm's in the same loop`);
  t.end();
});

t.test('equal latencies: an even split with the defaults; brpc’s weight lets any split persist and drift', (t) => {
  const list = ABC;
  const ids = list.map((e) => e.id);
  /** 50 callers, every endpoint 2 ms ± 20 % (+ 0.1 ms); shares per second over 12 s. */
  const run = (options: LalbOptions, seed: number) => {
    const clock = new Clock(0);
    const jitter = seededRandom(seed + 100);
    const balancer = new LocalityAwareBalancer({ clock, random: seededRandom(seed), ...options });
    const loop = new SharedLoop({ balancer, clock, list, callers: 50, latencyMs: () => 2 * (0.8 + 0.4 * jitter()) + 0.1 });
    return loop.run(12_000, 1000).map((bin) => sharesOf([bin], ids));
  };
  const inBand = (share: number[]) => share.every((s) => s >= 0.25 && s <= 0.42);
  let brpcOutside = 0;
  for (const seed of [1, 2, 3]) {
    // The first second is start-up: windows fill, rates become measurable.
    const trellis = run({}, seed).slice(1);
    const outside = trellis.filter((share) => !inBand(share));
    t.same(outside, [], `seed ${seed}, defaults: seconds 2–12, every share in 25–42 % (${trellis.map((share) => share.map((s) => Math.round(s * 100)).join('/')).join('  ')})`);
    const brpc = run({ rateExponent: 1 }, seed);
    if (brpc.some((share) => !inBand(share))) brpcOutside++;
    t.comment(`seed ${seed}, rateExponent 1 (brpc's weight): ${brpc.map((share) => share.map((s) => Math.round(s * 100)).join('/')).join('  ')}`);
  }
  t.equal(brpcOutside, 3, 'with brpc’s rate term every run leaves the band: the split drifts');
  t.end();
});

t.test('the rate term is mean × (qps / mean)^rateExponent: brpc units at the mean, compressed around it', (t) => {
  const params = { windowSize: 128, minWeight: 1000, punishInflightRatio: 1.5, maxSampleAgeUs: Number.POSITIVE_INFINITY };
  const traffic = { meanQps: 100 };
  const busy = new EndpointStats(1000, { ...params, rateExponent: 0.8 }, traffic);
  const exact = new EndpointStats(1000, { ...params, rateExponent: 1 }, traffic);
  // 400 calls/s at 1 ms: a full window spanning 127 gaps of 2.5 ms.
  for (let i = 0; i < 128; i++) {
    busy.recordSuccess(1000, i * 2500);
    exact.recordSuccess(1000, i * 2500);
  }
  t.ok(Math.abs(exact.qps - 400) < 1e-6, 'brpc: the measured rate');
  t.ok(Math.abs(busy.qps - 100 * 4 ** 0.8) < 1e-6, `0.8: 100 × 4^0.8 = ${busy.qps.toFixed(2)}`);
  t.ok(Math.abs(busy.measuredQps - 400) < 1e-6, 'the measured rate is kept as measured');
  t.equal(busy.baseWeight, Math.floor(Math.floor(100 * 4 ** 0.8 * WEIGHT_SCALE) / 1000));
  traffic.meanQps = 400;
  busy.recomputeBase();
  t.ok(Math.abs(busy.qps - 400) < 1e-6, 'at the mean rate both agree');
  t.end();
});

t.test('a reversal of latencies is followed within a second (brpc: many seconds)', (t) => {
  const after = (options: LalbOptions): number => {
    const loop = new ClosedLoop(ABC, FAST_FIRST, options);
    loop.run(5000);
    t.ok(shareOf(loop.run(1000), 'a:1') > 0.9, 'before: the 1 ms endpoint holds the traffic');
    loop.latencyMs = { ...REVERSED };
    return majorityAfter(loop.run(20_000), 'c:1');
  };
  const trellis = after({});
  const brpc = after(BRPC_EXACT_OPTIONS);
  t.ok(trellis <= 1000, `with the defaults the new fastest has most calls after ${trellis} ms`);
  t.ok(brpc > 3 * trellis, `brpc's exact algorithm takes longer: ${brpc} ms`);
  t.end();
});

t.test('a frozen endpoint gets few calls while frozen, and wins its traffic back once thawed', (t) => {
  const scenario = (options: LalbOptions) => {
    const loop = new ClosedLoop(ABC, FAST_FIRST, options);
    loop.run(5000);
    loop.freeze('a:1');
    const frozen = loop.run(5000);
    loop.thaw();
    const thawed = loop.run(30_000);
    return { sentWhileFrozen: shareOf(frozen.slice(10), 'a:1'), backAfter: majorityAfter(thawed, 'a:1') };
  };
  const trellis = scenario({});
  const brpc = scenario(BRPC_EXACT_OPTIONS);
  t.ok(trellis.sentWhileFrozen < 0.01, `after the first second, ${(trellis.sentWhileFrozen * 100).toFixed(3)} % of calls went to the frozen endpoint`);
  t.ok(
    trellis.backAfter <= DEFAULT_MAX_SAMPLE_AGE_MS + 2000,
    `with the defaults it has most calls again ${trellis.backAfter} ms after the thaw (the freeze's timeouts age out after 5 s)`,
  );
  t.equal(brpc.backAfter, Number.POSITIVE_INFINITY, 'brpc: the timeouts stay in its window; not back within 30 s');
  t.end();
});

t.test('start-up: the fastest endpoint wins even when a slower window filled first', (t) => {
  const scenario = (options: LalbOptions): number => {
    const loop = new ClosedLoop(ABC, FAST_FIRST, options);
    // b fills its window first: 200 calls that can only go to b.
    for (let i = 0; i < 200; i++) {
      const pick = loop.balancer.pick(ABC, only(ABC, 'b:1'))!;
      loop.clock.advance(2);
      pick.done({ latencyMs: 2 });
    }
    loop.run(2000);
    return shareOf(loop.run(1000), 'a:1');
  };
  const trellis = scenario({});
  const brpc = scenario(BRPC_EXACT_OPTIONS);
  t.ok(trellis > 0.9, `with the defaults the 1 ms endpoint has ${(trellis * 100).toFixed(1)} % of calls after 2 s`);
  t.ok(brpc < 0.5, `brpc's exact algorithm leaves it ${(brpc * 100).toFixed(1)} %: whoever measured first keeps the traffic`);
  t.end();
});

t.test('the rate floor is minQpsRatio × the mean measured qps per endpoint', (t) => {
  const clock = new FakeClock(0);
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(3), minQpsRatio: 0.1 });
  const list = [endpoint('busy:1'), endpoint('idle:1')];
  // busy: 1000 qps for 2 s; idle: one call every 500 ms (measured 2 qps).
  for (let ms = 0; ms < 2000; ms++) {
    const pick = balancer.pick(list, only(list, 'busy:1'))!;
    if (ms % 500 === 0) {
      const probe = balancer.pick(list, only(list, 'idle:1'))!;
      clock.advance(0.5);
      probe.done({ latencyMs: 0.5 });
      clock.advance(0.5);
    } else clock.advance(1);
    pick.done({ latencyMs: 1 });
  }
  clock.advance(200);
  balancer.pick(list, invocation()); // the next refresh
  const busy = rowOf(balancer, 'busy:1');
  const idle = rowOf(balancer, 'idle:1');
  t.ok(Math.abs(busy.measuredQps - 1000) < 20, `busy measured ${busy.measuredQps.toFixed(1)} qps`);
  t.ok(Math.abs(idle.measuredQps - 2) < 0.1, `idle measured ${idle.measuredQps.toFixed(2)} qps`);
  const floor = (0.1 * (busy.measuredQps + idle.measuredQps)) / 2;
  t.ok(Math.abs(idle.qps - floor) < 1e-6 * floor, `idle counts as ${idle.qps.toFixed(2)} qps = 0.1 × mean (${floor.toFixed(2)})`);

  const exact = new LocalityAwareBalancer({ clock, random: seeded(3), ...BRPC_EXACT_OPTIONS });
  const p = exact.pick(list, only(list, 'idle:1'))!;
  clock.advance(1);
  p.done({ latencyMs: 1 });
  t.equal(rowOf(exact, 'idle:1').qps, 1, 'brpc: 1 qps until the window can measure');
  t.end();
});

t.test('calls older than maxSampleAgeMs leave the window; with none left the endpoint starts over at the average', (t) => {
  const clock = new FakeClock(0);
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(4), maxSampleAgeMs: 2000 });
  const list = [endpoint('a:1'), endpoint('b:1')];
  const call = (id: string, latencyMs: number, error = false) => {
    const pick = balancer.pick(list, only(list, id, clock.now() + TIMEOUT_MS))!;
    clock.advance(latencyMs);
    pick.done(error ? { latencyMs, error: new RpcError(Code.DEADLINE_EXCEEDED, 'timeout', { mayHaveRun: true }) } : { latencyMs });
  };
  for (let i = 0; i < 200; i++) call('a:1', 1);
  for (let i = 0; i < 200; i++) call('b:1', 2);
  for (let i = 0; i < 20; i++) call('b:1', TIMEOUT_MS, true);
  t.ok(rowOf(balancer, 'b:1').avgLatencyMs > 50, `b's timeouts are in its window: ${rowOf(balancer, 'b:1').avgLatencyMs} ms`);
  // a keeps being called; b gets nothing for 2.5 s.
  for (let i = 0; i < 2500; i++) call('a:1', 1);
  clock.advance(150);
  const pending = balancer.pick(list, only(list, 'a:1'))!; // this pick runs the refresh
  const a = rowOf(balancer, 'a:1');
  const b = rowOf(balancer, 'b:1');
  t.equal(b.baseWeight, a.baseWeight, 'b knows nothing recent: the average of the endpoints that do (here: a)');
  t.equal(b.qps, 1, 'and its rate is unknown again');
  clock.advance(1);
  pending.done({ latencyMs: 1 });

  // One call on b after that: judged by it alone.
  call('b:1', 2);
  t.equal(rowOf(balancer, 'b:1').avgLatencyMs, 2, 'the first call after the reset is the whole window');
  t.end();
});

t.test('EndpointStats.expire drops by end time; a lone call left keeps its own latency, folded errors included', (t) => {
  const stats = new EndpointStats(1000, { windowSize: 128, minWeight: 1000, punishInflightRatio: 1.5, maxSampleAgeUs: 1_000_000, rateExponent: 1 });
  for (let i = 0; i < 10; i++) stats.recordSuccess(1000, i * 100_000); // ends at 0 … 0.9 s
  stats.recordError(50_000, 500_000, 2_000_000); // folded into the call that ended at 0.9 s, now ending at 2 s
  t.equal(stats.samples, 10);
  t.equal(stats.expire(2_000_000), true, 'everything that ended before 1 s goes');
  t.equal(stats.samples, 1);
  stats.recomputeBase();
  t.equal(stats.avgLatencyUs, 51_000, 'the lone call: 1 ms + the 50 ms error folded into it');
  t.equal(stats.expire(2_500_000), false, 'nothing more to drop');
  t.equal(stats.expire(3_000_001), true);
  t.equal(stats.samples, 0);
  t.equal(stats.recomputeBase(), false, 'nothing to compute from: the base stays');
  const unlimited = new EndpointStats(1000, { windowSize: 128, minWeight: 1000, punishInflightRatio: 1.5, maxSampleAgeUs: Number.POSITIVE_INFINITY, rateExponent: 1 });
  unlimited.recordSuccess(1000, 0);
  t.equal(unlimited.expire(1e12), false, 'Infinity: brpc keeps calls however old');
  t.end();
});

t.test('the new options are validated', (t) => {
  for (const minQpsRatio of [-0.1, 1.5, Number.NaN, '0.1']) {
    t.throws(() => new LocalityAwareBalancer({ minQpsRatio } as never), { code: 'ERR_INVALID_OPTION', message: /minQpsRatio/ });
  }
  for (const maxSampleAgeMs of [0, 999, -1, Number.NaN, '5000']) {
    t.throws(() => new LocalityAwareBalancer({ maxSampleAgeMs } as never), { code: 'ERR_INVALID_OPTION', message: /maxSampleAgeMs/ });
  }
  t.doesNotThrow(() => new LocalityAwareBalancer({ minQpsRatio: 0, maxSampleAgeMs: Number.POSITIVE_INFINITY }));
  t.end();
});
