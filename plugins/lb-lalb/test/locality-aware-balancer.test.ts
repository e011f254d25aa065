import t from 'tap';
import { Code, RpcError, notExecuted, type Pick } from '@trellis/core';
import type { Endpoint } from '@trellis/core/spi';
import { BRPC_EXACT_OPTIONS, LocalityAwareBalancer, WEIGHT_SCALE, type LalbOptions } from '../src/index.js';
import {
  FakeClock,
  countPicks,
  endpoint,
  invocation,
  only,
  rowOf,
  seeded,
  trainEqualRate,
  weightOf,
} from './fixtures/sim.js';

/**
 * The tests in this file check the port of brpc's algorithm, number for number, so Trellis's two
 * additions (rate floor, sample age limit) are off here; trellis-additions.test.ts covers them and
 * the defaults.
 */
function setup(options: LalbOptions = {}, seed = 1) {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(seed), ...BRPC_EXACT_OPTIONS, ...options });
  return { clock, balancer };
}

/**
 * A closed loop: `concurrency` callers, each issuing its next call as soon as the last one returns,
 * every endpoint answering after its own fixed latency. Returns the calls each endpoint served.
 */
function closedLoop(
  balancer: LocalityAwareBalancer,
  clock: FakeClock,
  list: readonly Endpoint[] | (() => readonly Endpoint[]),
  latencyMs: () => Readonly<Record<string, number>>,
  calls: number,
  concurrency: number,
  inFlight: { end: number; pick: Pick; latency: number }[] = [],
): Map<string, number> {
  const listFor = typeof list === 'function' ? list : () => list;
  const served = new Map<string, number>();
  const issue = (): void => {
    const pick = balancer.pick(listFor(), invocation())!;
    const latency = latencyMs()[pick.endpoint.id]!;
    inFlight.push({ end: clock.now() + latency, pick, latency });
  };
  while (inFlight.length < concurrency) issue();
  for (let i = 0; i < calls; i++) {
    let next = 0;
    for (let j = 1; j < inFlight.length; j++) if (inFlight[j]!.end < inFlight[next]!.end) next = j;
    const call = inFlight.splice(next, 1)[0]!;
    clock.set(call.end);
    call.pick.done({ latencyMs: call.latency });
    served.set(call.pick.endpoint.id, (served.get(call.pick.endpoint.id) ?? 0) + 1);
    issue();
  }
  return served;
}

t.test('an empty list, or every endpoint excluded, gives no pick', (t) => {
  const { balancer } = setup();
  t.equal(balancer.pick([], invocation()), undefined);
  const list = [endpoint('a:1'), endpoint('b:1')];
  t.equal(balancer.pick(list, invocation({ excluded: ['a:1', 'b:1'] })), undefined);
  t.equal(balancer.name, 'lalb');
  t.end();
});

t.test('all weights zero still serves; a duplicated id counts once', (t) => {
  const { balancer } = setup();
  const zeros = [endpoint('a:1', 0), endpoint('b:1', 0)];
  const counts = countPicks(balancer, zeros, 1000);
  t.ok(counts.get('a:1')! > 400 && counts.get('b:1')! > 400, 'uniform when nothing has weight');
  balancer.pick([endpoint('a:1'), endpoint('a:1'), endpoint('b:1')], invocation());
  t.same(balancer.snapshot().map((r) => r.id), ['a:1', 'b:1']);
  t.end();
});

t.test('weights follow qps / latency: at equal qps, 1/2/3 ms get 6:3:2', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  // 130 rounds fill every window: 100 qps each, latencies 1, 2 and 3 ms.
  trainEqualRate(balancer, clock, list, { 'a:1': 1, 'b:1': 2, 'c:1': 3 }, 130, 10);
  const rows = balancer.snapshot();
  t.same(
    rows.map((r) => [r.id, r.qps, r.avgLatencyMs]),
    [['a:1', 100, 1], ['b:1', 100, 2], ['c:1', 100, 3]],
  );
  for (const row of rows) {
    t.equal(row.weight, Math.floor((row.qps * WEIGHT_SCALE) / (row.avgLatencyMs * 1000)), `${row.id}: qps × scale / latency`);
  }
  const [a, b, c] = rows.map((r) => r.weight) as [number, number, number];
  t.ok(Math.abs(a / c - 3) < 1e-6 && Math.abs(b / c - 1.5) < 1e-6, 'weights 6:3:2');
  t.ok(Math.abs(rows[0]!.share - 6 / 11) < 1e-6, 'expected shares 6/11, 3/11, 2/11');

  const n = 60_000;
  const counts = countPicks(balancer, list, n);
  const share = (id: string): number => counts.get(id)! / n;
  t.ok(share('a:1') > share('b:1') && share('b:1') > share('c:1'), 'picks in the right order');
  t.ok(Math.abs(share('a:1') - 6 / 11) < 0.01, `a: ${share('a:1').toFixed(4)} ≈ 0.5455`);
  t.ok(Math.abs(share('b:1') - 3 / 11) < 0.01, `b: ${share('b:1').toFixed(4)} ≈ 0.2727`);
  t.ok(Math.abs(share('c:1') - 2 / 11) < 0.01, `c: ${share('c:1').toFixed(4)} ≈ 0.1818`);
  t.end();
});

t.test('closed loop: the fastest endpoint takes most calls, and the lead moves when latencies swap', (t) => {
  const { clock, balancer } = setup({}, 7);
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  let latencies: Record<string, number> = { 'a:1': 1, 'b:1': 2, 'c:1': 3 };
  const inFlight: { end: number; pick: Pick; latency: number }[] = [];
  closedLoop(balancer, clock, list, () => latencies, 20_000, 30, inFlight);
  const served = closedLoop(balancer, clock, list, () => latencies, 20_000, 30, inFlight);
  t.ok(served.get('a:1')! / 20_000 > 0.95, `1 ms endpoint served ${served.get('a:1')} of 20000`);
  const weights = balancer.snapshot().map((r) => r.weight);
  t.ok(weights[0]! > weights[1]! && weights[0]! > weights[2]!, 'its weight leads');

  // brpc's docs/cn/lalb.md experiment: reverse the latencies; LALB finds the new fastest.
  latencies = { 'a:1': 3, 'b:1': 2, 'c:1': 1 };
  let last = new Map<string, number>();
  for (let round = 0; round < 40; round++) {
    last = closedLoop(balancer, clock, list, () => latencies, 20_000, 30, inFlight);
    if (last.get('c:1')! / 20_000 > 0.95) break;
  }
  t.ok(last.get('c:1')! / 20_000 > 0.95, `after the swap the 1 ms endpoint serves ${last.get('c:1')} of 20000`);
  t.end();
});

t.test('in-flight punishment starts past 1.5 × avg latency, on picks and not before', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1'), endpoint('b:1')];
  trainEqualRate(balancer, clock, list, { 'a:1': 10, 'b:1': 10 }, 130, 20);
  const base = weightOf(balancer, 'a:1');
  t.equal(rowOf(balancer, 'a:1').avgLatencyMs, 10);
  const t0 = clock.now();
  const stuck = balancer.pick(list, only(list, 'a:1'))!;
  clock.set(t0 + 14);
  const second = balancer.pick(list, only(list, 'a:1'))!;
  t.equal(weightOf(balancer, 'a:1'), base, '14 ms in flight, under 1.5 × 10 ms: untouched');
  t.equal(rowOf(balancer, 'a:1').inflight, 2);
  // In flight since t0 and t0 + 14: the mean age at t0 + 37 is 30 ms, twice the 15 ms threshold.
  clock.set(t0 + 37);
  t.equal(rowOf(balancer, 'a:1').inflightDelayMs, 30);
  balancer.pick(list, only(list, 'a:1'));
  t.equal(weightOf(balancer, 'a:1'), Math.floor((base * 15) / 30), 'weight = base × 1.5·avg / inflight delay');
  t.equal(weightOf(balancer, 'b:1'), base, 'the other endpoint is untouched');
  t.ok(rowOf(balancer, 'a:1').share < 0.5);
  // Feedback re-evaluates as well: once the stuck calls return, the punishment goes.
  stuck.done({ latencyMs: 37 });
  second.done({ latencyMs: 23 });
  t.ok(weightOf(balancer, 'a:1') > Math.floor((base * 15) / 30), 'lifted on feedback');
  t.end();
});

t.test('an error lowers the weight; the last try costs more than one retries may fix', (t) => {
  const weights: Record<string, number> = {};
  for (const maxRetry of [0, 3]) {
    const { clock, balancer } = setup({ maxRetry });
    const list = [endpoint('a:1'), endpoint('b:1')];
    trainEqualRate(balancer, clock, list, { 'a:1': 5, 'b:1': 5 }, 130, 10);
    const before = rowOf(balancer, 'a:1');
    const pick = balancer.pick(list, only(list, 'a:1', clock.now() + 100))!;
    clock.advance(5);
    pick.done({ latencyMs: 5, error: new RpcError(Code.INTERNAL, 'boom') });
    const after = rowOf(balancer, 'a:1');
    t.ok(after.avgLatencyMs > before.avgLatencyMs, `maxRetry ${maxRetry}: latency up ${before.avgLatencyMs} → ${after.avgLatencyMs}`);
    t.ok(after.qps < before.qps, `maxRetry ${maxRetry}: qps down ${before.qps} → ${after.qps.toFixed(2)}`);
    t.ok(after.weight < weightOf(balancer, 'b:1'), `maxRetry ${maxRetry}: weight below the healthy twin`);
    weights[maxRetry] = after.weight;
    if (maxRetry === 0) {
      // No retries: the error counts as the whole 100 ms timeout, folded into the newest sample.
      t.equal(after.avgLatencyMs, Math.floor((127 * 5000 + 100_000) / 127) / 1000);
    } else {
      // First of four tries: latency × 1.2.
      t.equal(after.avgLatencyMs, Math.floor((127 * 5000 + 6000) / 127) / 1000);
    }
  }
  t.ok(weights[0]! < weights[3]!, 'an error no retry can fix is punished harder');
  t.end();
});

t.test('repeated errors keep pushing the weight down', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1'), endpoint('b:1')];
  trainEqualRate(balancer, clock, list, { 'a:1': 5, 'b:1': 5 }, 130, 10);
  let previous = weightOf(balancer, 'a:1');
  for (let i = 0; i < 5; i++) {
    const pick = balancer.pick(list, only(list, 'a:1', clock.now() + 50))!;
    clock.advance(2);
    pick.done({ latencyMs: 2, error: new RpcError(Code.UNKNOWN, 'boom') });
    const weight = weightOf(balancer, 'a:1');
    t.ok(weight < previous, `error ${i + 1}: ${previous} → ${weight}`);
    previous = weight;
  }
  t.end();
});

t.test('a cancelled call is not the endpoint’s fault', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1'), endpoint('b:1')];
  trainEqualRate(balancer, clock, list, { 'a:1': 5, 'b:1': 5 }, 130, 10);
  const before = rowOf(balancer, 'a:1');
  const pick = balancer.pick(list, only(list, 'a:1'))!;
  clock.advance(3);
  pick.done({ latencyMs: 3, error: new RpcError(Code.CANCELLED, 'caller gave up') });
  const after = rowOf(balancer, 'a:1');
  t.same([after.weight, after.avgLatencyMs, after.qps, after.inflight], [before.weight, before.avgLatencyMs, before.qps, 0]);
  t.end();
});

t.test('the floor keeps a very slow endpoint above zero, and still probed', (t) => {
  const { clock, balancer } = setup({}, 3);
  const list = [endpoint('fast:1'), endpoint('slow:1')];
  // One call each per 20 s: qps falls to its floor of 1; 5 s of latency gives ~200, under min_weight.
  trainEqualRate(balancer, clock, list, { 'fast:1': 1, 'slow:1': 5000 }, 130, 20_000);
  const slow = rowOf(balancer, 'slow:1');
  t.equal(slow.baseWeight, Math.floor(WEIGHT_SCALE / 5_000_000));
  t.equal(slow.weight, 1000, 'held at brpc min_weight');
  // Even stuck for an hour it does not go below.
  const pick = balancer.pick(list, only(list, 'slow:1'))!;
  clock.advance(3600_000);
  balancer.pick(list, only(list, 'slow:1'));
  t.equal(weightOf(balancer, 'slow:1'), 1000);
  pick.done({ latencyMs: 3600_000 });
  const counts = countPicks(balancer, list, 200_000);
  t.ok(counts.get('slow:1')! > 0, `probed ${counts.get('slow:1')} times in 200000 picks`);
  t.end();
});

t.test('a new endpoint starts at the average weight; list changes keep learned weights', (t) => {
  const { clock, balancer } = setup();
  const a = endpoint('a:1');
  const b = endpoint('b:1');
  const first = [a, b];
  balancer.pick(first, invocation()); // builds the tree
  t.same(balancer.snapshot().map((r) => r.weight), [WEIGHT_SCALE, WEIGHT_SCALE], 'nothing known: WEIGHT_SCALE each');
  trainEqualRate(balancer, clock, first, { 'a:1': 1, 'b:1': 3 }, 130, 10);
  const wa = weightOf(balancer, 'a:1');
  const wb = weightOf(balancer, 'b:1');
  t.not(wa, wb);

  const second = [a, b, endpoint('c:1')];
  balancer.pick(second, invocation());
  t.equal(weightOf(balancer, 'c:1'), Math.floor((wa + wb) / 2), 'c starts at the average of a and b');
  t.equal(weightOf(balancer, 'a:1'), wa, 'a keeps its weight');
  t.equal(weightOf(balancer, 'b:1'), wb, 'b keeps its weight');

  // A new array with the same endpoints (a directory refresh): nothing is relearned.
  balancer.pick([endpoint('a:1'), endpoint('b:1'), endpoint('c:1')], invocation());
  t.same(balancer.snapshot().map((r) => r.weight), [wa, wb, Math.floor((wa + wb) / 2)]);

  // b leaves the directory. Once no list picked from in the last 30 s contains it, it is forgotten;
  // when it comes back it starts over at the average of the others, as brpc's Add does.
  const withoutB = [a, endpoint('c:1')];
  balancer.pick(withoutB, invocation());
  t.same(balancer.snapshot().map((r) => r.id), ['a:1', 'b:1', 'c:1'], 'lists picked from lately still hold b');
  clock.advance(31_000);
  const later = [endpoint('a:1'), endpoint('c:1')];
  balancer.pick(later, invocation());
  t.same(balancer.snapshot().map((r) => r.id), ['a:1', 'c:1'], 'after 30 s in no list picked from, b is forgotten');
  const [wa2, wc2] = balancer.snapshot(later).map((r) => r.weight) as [number, number];
  balancer.pick([a, endpoint('c:1'), b], invocation());
  t.equal(weightOf(balancer, 'b:1'), Math.floor((wa2 + wc2) / 2));
  t.end();
});

t.test('excluded endpoints are never picked', (t) => {
  const random = seeded(99);
  const { clock, balancer } = setup({}, 5);
  const list = Array.from({ length: 12 }, (_, i) => endpoint(`10.0.0.${i}:80`, i % 4 === 0 ? 0 : 100));
  // Varied weights: a few thousand calls with random latencies and the odd error.
  for (let i = 0; i < 3000; i++) {
    const pick = balancer.pick(list, invocation())!;
    const latency = 1 + Math.floor(random() * 20);
    clock.advance(1);
    pick.done({ latencyMs: latency, error: random() < 0.05 ? new RpcError(Code.UNKNOWN, 'x') : undefined });
  }
  let violations = 0;
  let undefinedWhenAllowed = 0;
  for (let i = 0; i < 20_000; i++) {
    const excluded = list.filter(() => random() < 0.5).map((e) => e.id);
    const pick = balancer.pick(list, invocation({ excluded }));
    if (pick === undefined) {
      if (excluded.length < list.length) undefinedWhenAllowed++;
      continue;
    }
    if (excluded.includes(pick.endpoint.id)) violations++;
    clock.advance(0.01);
    pick.done({ latencyMs: 1 });
  }
  t.equal(violations, 0, 'no excluded endpoint returned');
  t.equal(undefinedWhenAllowed, 0, 'a pick whenever one endpoint is allowed');
  // Only zero-weight endpoints left: still served.
  const zeroOnly = list.filter((e) => e.weight !== 0).map((e) => e.id);
  const pick = balancer.pick(list, invocation({ excluded: zeroOnly }));
  t.equal(pick?.endpoint.weight, 0);
  t.end();
});

t.test('an unreachable endpoint is capped at the average weight', (t) => {
  for (const mayHaveRun of [false, true]) {
    const { clock, balancer } = setup({ maxRetry: 3 });
    const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
    trainEqualRate(balancer, clock, list, { 'a:1': 1, 'b:1': 10, 'c:1': 10 }, 130, 20);
    const before = balancer.snapshot().map((r) => r.weight);
    const average = Math.floor(before.reduce((x, y) => x + y, 0) / 3);
    t.ok(before[0]! > average, 'the fast endpoint is above average');
    const pick = balancer.pick(list, only(list, 'a:1'))!;
    clock.advance(0.2);
    const error = mayHaveRun
      ? new RpcError(Code.UNAVAILABLE, 'connection reset')
      : notExecuted(Code.UNAVAILABLE, 'connect ECONNREFUSED');
    pick.done({ latencyMs: 0.2, error });
    const after = weightOf(balancer, 'a:1');
    if (!mayHaveRun) {
      t.ok(after <= average, `refused: ${before[0]} → ${after}, average ${average}`);
      t.ok(after > before[1]!, 'still above the slow endpoints');
    } else {
      t.ok(after > average, `may have run: only the error penalty (${before[0]} → ${after})`);
    }
  }
  t.end();
});

t.test('endpoint.weight scales LALB’s weight (warm-up ramps)', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1', 100), endpoint('b:1', 50)];
  trainEqualRate(balancer, clock, list, { 'a:1': 2, 'b:1': 2 }, 130, 10);
  const [a, b] = balancer.snapshot();
  t.equal(a!.baseWeight, b!.baseWeight, 'LALB sees two identical endpoints');
  t.equal(b!.weight, Math.floor(a!.weight / 2), 'b, at weight 50, gets half');
  const counts = countPicks(balancer, list, 30_000);
  t.ok(Math.abs(counts.get('b:1')! / 30_000 - 1 / 3) < 0.01, `b share ${(counts.get('b:1')! / 30_000).toFixed(4)} ≈ 1/3`);
  // The ramp ends: a new list carries weight 100; the learned state stays.
  balancer.pick([endpoint('a:1', 100), endpoint('b:1', 100)], invocation());
  const [a2, b2] = balancer.snapshot();
  t.equal(b2!.weight, a2!.weight);
  // A newcomer ramping up starts at its fraction of the average.
  balancer.pick([endpoint('a:1'), endpoint('b:1'), endpoint('c:1', 10)], invocation());
  t.equal(weightOf(balancer, 'c:1'), Math.floor(a2!.weight * 0.1));
  t.end();
});

t.test('done() counts once; feedback for an endpoint forgotten since its pick is dropped', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1'), endpoint('b:1')];
  const pick = balancer.pick(list, only(list, 'a:1'))!;
  const other = balancer.pick(list, only(list, 'a:1'))!;
  t.equal(rowOf(balancer, 'a:1').inflight, 2);
  clock.advance(1);
  pick.done({ latencyMs: 1 });
  pick.done({ latencyMs: 1 });
  t.equal(rowOf(balancer, 'a:1').inflight, 1, 'the second done() is ignored');
  const leaving = balancer.pick(list, only(list, 'b:1'))!;
  clock.advance(31_000); // b's list goes unused for 30 s: b is forgotten
  const afterChange = balancer.pick([endpoint('a:1')], invocation())!;
  t.doesNotThrow(() => leaving.done({ latencyMs: 1 }));
  t.same(balancer.snapshot().map((r) => r.id), ['a:1']);
  other.done({ latencyMs: 1 });
  afterChange.done({ latencyMs: 1 });
  t.equal(rowOf(balancer, 'a:1').inflight, 0, 'a kept its in-flight count across the list change');
  t.end();
});

t.test('without latencyMs the balancer’s own clock measures the call', (t) => {
  const { clock, balancer } = setup();
  const list = [endpoint('a:1')];
  const pick = balancer.pick(list, invocation())!;
  clock.advance(4);
  pick.done({ latencyMs: Number.NaN });
  t.equal(rowOf(balancer, 'a:1').avgLatencyMs, 4);
  t.end();
});

t.test('options are validated with ERR_INVALID_OPTION', (t) => {
  const bad: LalbOptions[] = [
    { windowSize: 1 },
    { windowSize: 2.5 },
    { minWeight: 0 },
    { punishInflightRatio: 0 },
    { punishErrorRatio: Number.NaN },
    { maxRetry: -1 },
    { random: 3 as unknown as () => number },
    { clock: {} as never },
  ];
  for (const options of bad) {
    t.throws(() => new LocalityAwareBalancer(options), { code: 'ERR_INVALID_OPTION' }, JSON.stringify(options));
  }
  t.doesNotThrow(() => new LocalityAwareBalancer({ maxRetry: (inv) => inv.attempt }));
  t.end();
});

t.test('routed lists that alternate per call share what LALB learned (gray release)', (t) => {
  const { clock, balancer } = setup({}, 21);
  const v1 = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  const v2 = [endpoint('d:1')];
  const latency: Record<string, number> = { 'a:1': 1, 'b:1': 2, 'c:1': 5, 'd:1': 1 };
  // 20 callers; every 5th call is routed to v2, the others to v1; each list keeps its array.
  let call = 0;
  const routed = () => (call++ % 5 === 0 ? v2 : v1);
  const inFlight: { end: number; pick: Pick; latency: number }[] = [];
  closedLoop(balancer, clock, routed, () => latency, 20_000, 20, inFlight);
  const served = closedLoop(balancer, clock, routed, () => latency, 20_000, 20, inFlight);
  const v1Calls = (served.get('a:1') ?? 0) + (served.get('b:1') ?? 0) + (served.get('c:1') ?? 0);
  t.ok((served.get('a:1') ?? 0) / v1Calls > 0.9, `the 1 ms v1 endpoint served ${served.get('a:1')} of ${v1Calls} v1 calls`);
  t.ok((served.get('c:1') ?? 0) / v1Calls < 0.01, `the 5 ms one ${served.get('c:1') ?? 0}`);
  t.ok(rowOf(balancer, 'a:1').qps > 1, 'a measured a rate: its window was never reset by the v2 calls');
  t.same(balancer.snapshot(v2).map((r) => [r.id, r.share]), [['d:1', 1]], 'each list has its own shares');

  // One endpoint in two lists (a subset route and the full list): one set of statistics.
  const all = [...v1, ...v2];
  balancer.pick(all, invocation());
  t.equal(balancer.snapshot(all).find((r) => r.id === 'a:1')!.avgLatencyMs, 1, 'the full list sees what v1 learned about a');
  t.ok(
    balancer.snapshot(all).find((r) => r.id === 'a:1')!.weight > balancer.snapshot(all).find((r) => r.id === 'c:1')!.weight,
    'and weighs it accordingly',
  );
  t.end();
});

t.test('an endpoint whose lists went unused keeps what LALB learned for 30 s', (t) => {
  // Lists are dropped by the periodic refresh, which the additions turn on; samples kept for 60 s.
  const { clock, balancer } = setup({ minQpsRatio: 0.05, maxSampleAgeMs: 60_000 });
  const list = [endpoint('a:1'), endpoint('b:1')];
  trainEqualRate(balancer, clock, list, { 'a:1': 1, 'b:1': 4 }, 130, 10);
  const learned = rowOf(balancer, 'b:1');
  // Only a is routed to for 20 s: b's list is dropped after 2 s, b itself is kept.
  const onlyA = [endpoint('a:1')];
  for (let i = 0; i < 200; i++) {
    const pick = balancer.pick(onlyA, invocation())!;
    clock.advance(100);
    pick.done({ latencyMs: 1 });
  }
  t.same(balancer.snapshot().map((r) => r.id), ['a:1'], 'b is in no list picked from: no share to show');
  const back = [endpoint('a:1'), endpoint('b:1')];
  balancer.pick(back, only(back, 'a:1'))!.done({ latencyMs: 1 });
  const row = balancer.snapshot(back).find((r) => r.id === 'b:1')!;
  t.same([row.avgLatencyMs, row.qps, row.baseWeight], [learned.avgLatencyMs, learned.qps, learned.baseWeight], 'b comes back with its statistics');
  t.end();
});

t.test('a router that builds a new, equal array on every call still gets the right weights', (t) => {
  const { clock, balancer } = setup({}, 9);
  const endpoints = [endpoint('a:1'), endpoint('b:1')];
  const latency: Record<string, number> = { 'a:1': 1, 'b:1': 4 };
  const copies = () => [...endpoints]; // a fresh copy each time
  const inFlight: { end: number; pick: Pick; latency: number }[] = [];
  closedLoop(balancer, clock, copies, () => latency, 10_000, 10, inFlight);
  const served = closedLoop(balancer, clock, copies, () => latency, 10_000, 10, inFlight);
  t.ok((served.get('a:1') ?? 0) > 9000, `the 1 ms endpoint served ${served.get('a:1')} of the last 10000`);
  t.same(balancer.snapshot().map((r) => r.id), ['a:1', 'b:1']);
  t.end();
});
