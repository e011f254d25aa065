import t from 'tap';
import { Code, RpcError, notExecuted, type Endpoint, type Pick } from '@trellis/core';
import { ClosedLoop, FakeClock, seededRandom, sharesOf, testEndpoint, testInvocation } from '@trellis/testkit';
import { P2cBalancer, PENALTY, type P2cOptions } from '../src/index.js';

function setup(options: P2cOptions = {}, seed = 1) {
  const clock = new FakeClock(0);
  const balancer = new P2cBalancer({ clock, random: seededRandom(seed), ...options });
  return { clock, balancer };
}

/** One call to `id` (everything else excluded) that takes `latencyMs`. */
function callOnce(balancer: P2cBalancer, clock: FakeClock, list: readonly Endpoint[], id: string, latencyMs: number): void {
  const pick = balancer.pick(list, testInvocation({ excluded: list.filter((e) => e.id !== id).map((e) => e.id) }))!;
  clock.advance(latencyMs);
  pick.done({ latencyMs });
}

function rowOf(balancer: P2cBalancer, id: string) {
  const row = balancer.snapshot().find((r) => r.id === id);
  if (row === undefined) throw new Error(`no ${id} in the snapshot`);
  return row;
}

const ABC = [testEndpoint('a:1'), testEndpoint('b:1'), testEndpoint('c:1')];

t.test('an empty list, or every endpoint excluded, gives no pick', (t) => {
  const { balancer } = setup();
  t.equal(balancer.name, 'p2c');
  t.equal(balancer.pick([], testInvocation()), undefined);
  t.equal(balancer.pick(ABC, testInvocation({ excluded: ['a:1', 'b:1', 'c:1'] })), undefined);
  t.equal(balancer.pick([ABC[0]!], testInvocation())!.endpoint.id, 'a:1', 'a list of one');
  t.end();
});

t.test('of the two drawn, the cheaper wins: latency × (in flight + 1)', (t) => {
  const { balancer, clock } = setup();
  const ab = [testEndpoint('a:1'), testEndpoint('b:1')];
  callOnce(balancer, clock, ab, 'a:1', 1);
  callOnce(balancer, clock, ab, 'b:1', 4);
  // With two endpoints both are always drawn: the choice is the cost comparison alone.
  const first = balancer.pick(ab, testInvocation())!;
  t.equal(first.endpoint.id, 'a:1', '1 × 1 < 4 × 1');
  const picks: Pick[] = [first];
  for (let i = 0; i < 3; i++) picks.push(balancer.pick(ab, testInvocation())!);
  t.same(picks.map((p) => p.endpoint.id), ['a:1', 'a:1', 'a:1', 'a:1'], 'a until 1 × (3 + 1) = 4 ties with b (a tie keeps the first drawn)');
  t.equal(rowOf(balancer, 'a:1').inFlight, 4);
  const fifth = balancer.pick(ab, testInvocation())!;
  t.equal(fifth.endpoint.id, 'b:1', '1 × (4 + 1) = 5 > 4: b');
  for (const p of [...picks, fifth]) p.done({ latencyMs: p.endpoint.id === 'a:1' ? 1 : 4 });
  t.equal(rowOf(balancer, 'a:1').inFlight, 0, 'done() takes the call out');
  t.end();
});

t.test('a pick reads a bounded number of list entries, whatever the list size', (t) => {
  const { balancer } = setup();
  const endpoints = Array.from({ length: 10_000 }, (_, i) => testEndpoint(`10.0.${i >> 8}.${i & 255}:1`));
  let reads = 0;
  const counted = new Proxy(endpoints, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  balancer.pick(counted, testInvocation()); // prepares the list once: reads all of it
  reads = 0;
  for (let i = 0; i < 1000; i++) balancer.pick(counted, testInvocation());
  t.equal(reads, 0, 'no entry read per pick without exclusions (prepared per list)');
  for (let i = 0; i < 1000; i++) balancer.pick(counted, testInvocation({ excluded: ['10.0.0.1:1', '10.0.0.2:1'] }));
  t.ok(reads <= 1000 * 2 * 8, `with exclusions, a few draws per pick: ${reads / 1000} reads per pick`);
  t.end();
});

t.test('excluded endpoints are never picked; with one left it is the pick', (t) => {
  const { balancer } = setup({}, 5);
  const list = Array.from({ length: 20 }, (_, i) => testEndpoint(`e${i}:1`));
  const random = seededRandom(9);
  for (let i = 0; i < 2000; i++) {
    const excluded = list.filter(() => random() < 0.7).map((e) => e.id);
    const pick = balancer.pick(list, testInvocation({ excluded }));
    if (excluded.length === list.length) t.equal(pick, undefined);
    else if (excluded.includes(pick!.endpoint.id)) t.fail(`picked excluded ${pick!.endpoint.id}`);
    pick?.done({ latencyMs: 1 });
  }
  const one = balancer.pick(list, testInvocation({ excluded: list.slice(1).map((e) => e.id) }));
  t.equal(one!.endpoint.id, 'e0:1');
  t.end();
});

t.test('endpoint.weight divides the cost; weight 0 loses every comparison', (t) => {
  const { balancer, clock } = setup();
  const list = [testEndpoint('heavy:1', 200), testEndpoint('light:1', 100)];
  callOnce(balancer, clock, list, 'heavy:1', 2);
  callOnce(balancer, clock, list, 'light:1', 2);
  const picks = Array.from({ length: 6 }, () => balancer.pick(list, testInvocation())!);
  const heavy = picks.filter((p) => p.endpoint.id === 'heavy:1').length;
  t.equal(heavy, 4, 'weight 200 takes twice the calls in flight for the same cost: 4 of 6');
  const zero = [testEndpoint('z:1', 0), testEndpoint('w:1', 100)];
  const p = setup();
  for (let i = 0; i < 50; i++) t.equal(p.balancer.pick(zero, testInvocation())!.endpoint.id, 'w:1');
  t.equal(p.balancer.pick(zero, testInvocation({ excluded: ['w:1'] }))!.endpoint.id, 'z:1', 'unless nothing else is allowed');
  t.end();
});

t.test('unknown endpoints get one probe at a time until they answer', (t) => {
  const { balancer, clock } = setup();
  const ab = [testEndpoint('known:1'), testEndpoint('new:1')];
  // A list where `known` has history and `new` has none, but neither joined later: both started unknown.
  const probe = balancer.pick(ab, testInvocation({ excluded: ['known:1'] }))!;
  t.equal(probe.endpoint.id, 'new:1');
  callOnce(balancer, clock, ab, 'known:1', 50);
  t.equal(rowOf(balancer, 'new:1').cost, PENALTY + 1, 'unanswered probe out: the penalty');
  for (let i = 0; i < 20; i++) t.equal(balancer.pick(ab, testInvocation())!.endpoint.id, 'known:1', 'even 50 ms × 20 in flight is cheaper');
  clock.advance(3);
  probe.done({ latencyMs: 3 });
  t.equal(rowOf(balancer, 'new:1').latencyMs, 3, 'its first answer is its estimate');
  t.end();
});

t.test('a new endpoint joins at the slowest known estimate and warms up over the decay time', (t) => {
  const { balancer, clock } = setup({ decayMs: 1000 });
  const before = [testEndpoint('a:1'), testEndpoint('b:1')];
  const after = [...before, testEndpoint('c:1')];
  let list = before;
  const loop = new ClosedLoop({
    balancer, clock, list: () => list, callers: 4,
    latencyMs: (id) => ({ 'a:1': 2, 'b:1': 5, 'c:1': 1 })[id]!,
  });
  loop.run(3000);
  const worst = rowOf(balancer, 'b:1').latencyMs;
  // c's first pick: a pick that ends without an answer to learn from (its latency is unusable).
  balancer.pick(after, testInvocation({ excluded: ['a:1', 'b:1'] }))!.done({ latencyMs: Number.NaN });
  t.ok(Math.abs(rowOf(balancer, 'c:1').latencyMs - worst) < 1e-9, `c starts at b's estimate, the slowest known: ${worst.toFixed(2)} ms`);
  list = after;
  const bins = loop.run(6000, 500);
  const cShare = bins.map((bin) => sharesOf([bin], ['a:1', 'b:1', 'c:1'])[2]!);
  t.ok(cShare[11]! > 0.5, `after six decay times c, the fastest, gets most: ${(cShare[11]! * 100).toFixed(1)} %`);
  t.ok(cShare[11]! > cShare[0]! + 0.1, `it got there gradually: ${(cShare[0]! * 100).toFixed(1)} % in the first half second`);
  t.end();
});

t.test('errors: a timeout is a slow answer; a cancel or a request that never left teaches nothing', (t) => {
  const { balancer, clock } = setup();
  const list = [testEndpoint('a:1'), testEndpoint('b:1')];
  callOnce(balancer, clock, list, 'a:1', 2);
  const only = testInvocation({ excluded: ['b:1'] });
  balancer.pick(list, only)!.done({ latencyMs: 0.1, error: new RpcError(Code.CANCELLED, 'caller gave up') });
  t.equal(rowOf(balancer, 'a:1').latencyMs, 2, 'cancelled: not observed');
  balancer.pick(list, only)!.done({ latencyMs: 0.01, error: notExecuted(Code.UNAVAILABLE, 'connection refused') });
  t.equal(rowOf(balancer, 'a:1').latencyMs, 2, 'never sent: not observed');
  t.equal(rowOf(balancer, 'a:1').inFlight, 0, 'both left the in-flight count');
  balancer.pick(list, only)!.done({ latencyMs: 40, error: new RpcError(Code.NOT_FOUND, 'no such user') });
  t.equal(rowOf(balancer, 'a:1').latencyMs, 40, 'an answer with an error code is an answer');
  balancer.pick(list, only)!.done({ latencyMs: 500, error: new RpcError(Code.DEADLINE_EXCEEDED, 'timeout', { mayHaveRun: true }) });
  t.equal(rowOf(balancer, 'a:1').latencyMs, 500, 'a timeout is a 500 ms answer: the peak');
  t.end();
});

t.test('closed loop: latency-aware with 1/2/3 ms, even with equal latencies', (t) => {
  const ids = ABC.map((e) => e.id);
  const unequal = setup({}, 3);
  const fastFirst = new ClosedLoop({ ...unequal, list: ABC, callers: 50, latencyMs: (id) => ({ 'a:1': 1.1, 'b:1': 2.1, 'c:1': 3.1 })[id]! });
  fastFirst.run(2000);
  const shares = sharesOf(fastFirst.run(5000), ids);
  t.ok(shares[0]! > shares[1]! && shares[1]! > shares[2]!, `faster gets more: ${shares.map((s) => (s * 100).toFixed(1)).join(' / ')} %`);
  t.ok(shares[0]! > 0.5, 'the 1 ms endpoint takes most calls');

  const equal = setup({}, 4);
  const random = seededRandom(12);
  const loop = new ClosedLoop({ ...equal, list: ABC, callers: 50, latencyMs: () => 2 * (0.8 + 0.4 * random()) });
  loop.run(2000);
  const even = sharesOf(loop.run(10_000), ids);
  for (const [i, s] of even.entries()) t.ok(s > 0.25 && s < 0.42, `equal latencies: ${ids[i]} ${(s * 100).toFixed(1)} %`);
  t.end();
});

t.test('routed lists that alternate per call share what was learned per endpoint', (t) => {
  const { balancer, clock } = setup();
  const v1 = [testEndpoint('a:1'), testEndpoint('b:1')];
  const v2 = [testEndpoint('c:1'), v1[0]!];
  callOnce(balancer, clock, v1, 'a:1', 9);
  t.equal(rowOf(balancer, 'a:1').latencyMs, 9);
  callOnce(balancer, clock, v2, 'a:1', 10);
  t.equal(rowOf(balancer, 'a:1').latencyMs, 10, 'one estimate for a, whichever list it was picked from');
  const copy = [...v1];
  balancer.pick(copy, testInvocation())!.done({ latencyMs: 1 });
  t.equal(balancer.snapshot().length, 3, 'a new array with the same endpoints is the same list');
  t.end();
});

t.test('endpoints in no list picked from for 30 s are forgotten', (t) => {
  const { balancer, clock } = setup();
  const old = [testEndpoint('gone:1'), testEndpoint('stays:1')];
  callOnce(balancer, clock, old, 'gone:1', 1);
  const now = [old[1]!];
  for (let s = 0; s < 62; s++) {
    clock.advance(1000);
    balancer.pick(now, testInvocation())!.done({ latencyMs: 1 });
  }
  t.same(balancer.snapshot().map((r) => r.id), ['stays:1']);
  t.end();
});

t.test('options are validated with ERR_INVALID_OPTION', (t) => {
  for (const decayMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10s']) {
    t.throws(() => new P2cBalancer({ decayMs } as never), { code: 'ERR_INVALID_OPTION', message: /decayMs/ });
  }
  t.throws(() => new P2cBalancer({ clock: {} } as never), { code: 'ERR_INVALID_OPTION', message: /clock/ });
  t.throws(() => new P2cBalancer({ random: 0.5 } as never), { code: 'ERR_INVALID_OPTION', message: /random/ });
  t.end();
});
