/**
 * Bounded load with a hot key: 30 % of the calls carry one key, the rest 10,000 others; 100 callers
 * in a closed loop on a virtual clock over 10 endpoints of equal latency. Every pick is checked
 * against the bound the moment it is made.
 */
import t from 'tap';
import type { Endpoint, Invocation, LoadBalancer, Pick } from '@trellis/core';
import { ClosedLoop, FakeClock, seededRandom, testEndpoint, testInvocation } from '@trellis/testkit';
import { ConsistentHashBalancer, DEFAULT_EPSILON, type ConsistentHashOptions, type HashAlgorithm } from '../src/index.js';

const LIST: Endpoint[] = Array.from({ length: 10 }, (_, i) => testEndpoint(`10.0.1.${i + 1}:7000`));

/** Wraps a balancer to count calls in flight per endpoint, and records the worst moment. */
class Watched implements LoadBalancer {
  readonly name = 'watched';
  readonly inFlight = new Map<string, number>();
  total = 0;
  /** max over picks, once 50 calls are in flight, of (in flight on the endpoint picked) / (the mean). */
  worstRatio = 0;
  /** Picks where the endpoint's in-flight count exceeded ⌈(1 + ε) × mean⌉. */
  overBound = 0;

  constructor(private readonly inner: LoadBalancer, private readonly epsilon: number) {}

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    const pick = this.inner.pick(list, invocation)!;
    const id = pick.endpoint.id;
    const load = (this.inFlight.get(id) ?? 0) + 1;
    this.inFlight.set(id, load);
    this.total++;
    const mean = this.total / list.length;
    if (this.total >= 50) this.worstRatio = Math.max(this.worstRatio, load / mean);
    if (load > Math.ceil((1 + this.epsilon) * mean)) this.overBound++;
    return {
      endpoint: pick.endpoint,
      done: (outcome) => {
        this.inFlight.set(id, this.inFlight.get(id)! - 1);
        this.total--;
        pick.done(outcome);
      },
    };
  }
}

function hotKeyRun(options: Partial<ConsistentHashOptions>, seed = 1) {
  const clock = new FakeClock(0);
  const balancer = new ConsistentHashBalancer({ field: 'user.id', ...options });
  const watched = new Watched(balancer, DEFAULT_EPSILON);
  const random = seededRandom(seed);
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const loop = new ClosedLoop({
    balancer: watched,
    clock,
    list: LIST,
    callers: 100,
    latencyMs: () => 1 + random(),
    invocation: (_, deadline) => testInvocation({ deadline, request: { user: { id: random() < 0.3 ? 'hot' : keys[Math.floor(random() * keys.length)]! } } }),
  });
  const served = loop.run(2000)[0]!;
  const hotHome = new ConsistentHashBalancer({ field: 'user.id', ...options, boundedLoad: false }).pick(LIST, testInvocation({ request: { user: { id: 'hot' } } }))!.endpoint.id;
  const calls = [...served.values()].reduce((a, b) => a + b, 0);
  return { watched, hotHomeShare: (served.get(hotHome) ?? 0) / calls, maxShare: Math.max(...served.values()) / calls };
}

for (const algorithm of ['ring', 'maglev'] as HashAlgorithm[]) {
  t.test(`${algorithm}: with a hot key at 30 % of the calls, bounded load keeps every endpoint under (1 + ε) × the mean`, (t) => {
    const bounded = hotKeyRun({ algorithm });
    t.equal(bounded.watched.overBound, 0, `no pick put an endpoint above ⌈1.25 × mean⌉ (worst: ${bounded.watched.worstRatio.toFixed(2)} × the mean at a pick)`);
    t.ok(bounded.maxShare <= (1 + DEFAULT_EPSILON) / LIST.length + 0.01, `the busiest endpoint served ${(bounded.maxShare * 100).toFixed(1)} % of the calls (mean 10 %, bound 12.5 %)`);

    const plain = hotKeyRun({ algorithm, boundedLoad: false });
    t.ok(plain.hotHomeShare > 0.3, `without the bound the hot key's endpoint serves ${(plain.hotHomeShare * 100).toFixed(1)} % of the calls`);
    t.ok(plain.watched.overBound > 0, `and is above the bound at ${plain.watched.overBound} picks (worst ${plain.watched.worstRatio.toFixed(2)} × the mean)`);
    t.end();
  });
}

t.test('ε is configurable: a larger ε lets the hot key’s endpoint take more before it overflows', (t) => {
  const tight = hotKeyRun({ boundedLoad: { epsilon: 0.1 } });
  const loose = hotKeyRun({ boundedLoad: { epsilon: 1 } });
  t.ok(tight.maxShare <= 1.1 / LIST.length + 0.01, `ε 0.1: busiest ${(tight.maxShare * 100).toFixed(1)} %`);
  t.ok(loose.hotHomeShare > tight.hotHomeShare, `ε 1: the hot key's endpoint serves ${(loose.hotHomeShare * 100).toFixed(1)} % (ε 0.1: ${(tight.hotHomeShare * 100).toFixed(1)} %)`);
  t.ok(loose.hotHomeShare <= 2 / LIST.length + 0.01, 'and still at most 2 × the mean');
  t.end();
});

t.test('under the bound, keys stay where consistent hashing puts them', (t) => {
  const balancer = new ConsistentHashBalancer({ field: 'id' });
  const plain = new ConsistentHashBalancer({ field: 'id', boundedLoad: false });
  // 5 calls in flight over 10 endpoints: each may hold ⌈1.25 × 6 / 10⌉ = 1, so a second call for
  // a busy endpoint overflows; calls released at once never do.
  let same = 0;
  for (let i = 0; i < 1000; i++) {
    const inv = testInvocation({ request: { id: `k${i}` } });
    const pick = balancer.pick(LIST, inv)!;
    if (pick.endpoint.id === plain.pick(LIST, inv)!.endpoint.id) same++;
    pick.done({ latencyMs: 1 });
  }
  t.equal(same, 1000, 'with nothing in flight every key goes to its own endpoint');
  const held = [balancer.pick(LIST, testInvocation({ request: { id: 'k1' } }))!];
  const again = balancer.pick(LIST, testInvocation({ request: { id: 'k1' } }))!;
  t.not(again.endpoint.id, held[0]!.endpoint.id, 'a second call for the same key while the first holds ⌈1.25 × 2 / 10⌉ = 1: it overflows');
  const next = plain.pick(LIST, testInvocation({ request: { id: 'k1' }, excluded: [held[0]!.endpoint.id] }))!;
  t.equal(again.endpoint.id, next.endpoint.id, 'to the endpoint a retry would go to: the next on the key’s walk');
  t.end();
});
