/**
 * LALB's times are integer µs since an epoch of the balancer's, which moves up every ≈ 4.5 min
 * (REBASE_AFTER_US) so they stay small integers. Moving it must be invisible: the same traffic,
 * relative to when it starts, gives the same picks and the same weights whether or not the epoch
 * moves while calls are in flight.
 */
import t from 'tap';
import { LocalityAwareBalancer } from '../src/index.js';
import { FakeClock, endpoint, invocation, seeded } from './fixtures/sim.js';

const LATENCY_MS: Record<string, number> = { 'a:1': 1, 'b:1': 2, 'c:1': 3 };

/** 20 s of closed-loop traffic (20 calls in flight), starting `startS` seconds after construction. */
function run(startS: number, kernelTimed: boolean) {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(7) }, { outcomesOnBalancerClock: kernelTimed });
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  const base = clock.now() + startS * 1000;
  clock.set(base);
  const inflight: { endMs: number; startMs: number; done: (o: object) => void; inv: ReturnType<typeof invocation> }[] = [];
  const picks: string[] = [];
  // Steps of 1/8 ms: exact in binary, so every reading is the same number of µs after the start.
  for (let step = 0; step < 160_000; step++) {
    const now = base + step * 0.125;
    clock.set(now);
    for (let i = inflight.length - 1; i >= 0; i--) {
      const call = inflight[i]!;
      if (call.endMs > now) continue;
      inflight.splice(i, 1);
      call.done({ latencyMs: call.endMs - call.startMs, startedAt: call.startMs, invocation: call.inv });
    }
    while (inflight.length < 20) {
      const inv = invocation();
      const pick = kernelTimed ? balancer.pick(list, inv, now)! : balancer.pick(list, inv)!;
      picks.push(pick.endpoint.id);
      // Every 25th call hangs for 40 ms: the in-flight punishment (kept as a sum of begin times,
      // which a move of the epoch shifts) then decides picks too.
      const latencyMs = picks.length % 25 === 0 ? 40 : LATENCY_MS[pick.endpoint.id]!;
      inflight.push({ startMs: now, endMs: now + latencyMs, done: (o) => pick.done(o as never), inv });
    }
  }
  const rows = balancer.snapshot().map(({ id, weight, baseWeight, avgLatencyMs, qps, inflight: n }) => ({ id, weight, baseWeight, avgLatencyMs, qps, inflight: n }));
  return { picks, rows };
}

for (const kernelTimed of [true, false]) {
  t.test(`the epoch moves up while calls are in flight, invisibly (${kernelTimed ? "the kernel's start readings" : 'its own clock'})`, async (t) => {
    // 260–280 s after construction crosses the first move (≈ 268.4 s); 10–30 s does not.
    const crossing = run(260, kernelTimed);
    const steady = run(10, kernelTimed);
    t.ok(crossing.picks.length > 50_000, `${crossing.picks.length} picks`);
    t.equal(crossing.picks.length, steady.picks.length, 'as many picks');
    const firstDifference = crossing.picks.findIndex((id, i) => id !== steady.picks[i]);
    t.equal(firstDifference, -1, 'the same endpoints, in the same order');
    t.same(crossing.rows, steady.rows, 'the same weights, latencies, rates and calls in flight');
    t.equal(new Set(crossing.picks).size, 3, 'every endpoint got calls');
  });
}
