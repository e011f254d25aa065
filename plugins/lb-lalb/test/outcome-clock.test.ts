/**
 * The plugin gives the balancer the client's clock, the one the kernel times attempts on, and says so
 * (the constructor's `timing.outcomesOnBalancerClock`): feedback then takes an attempt's end as its pick time plus the
 * latency the kernel measured, instead of reading the clock once more per call.
 */
import t from 'tap';
import { BRPC_EXACT_OPTIONS, LocalityAwareBalancer } from '../src/index.js';
import { FakeClock, endpoint, invocation, rowOf, seeded } from './fixtures/sim.js';

function twoCalls(latencyOnClock: boolean) {
  // A frozen clock: both calls are picked, and end, at the same reading.
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(1), ...BRPC_EXACT_OPTIONS }, { outcomesOnBalancerClock: latencyOnClock });
  const list = [endpoint('a:1')];
  const first = balancer.pick(list, invocation())!;
  const second = balancer.pick(list, invocation())!;
  first.done({ latencyMs: 2 });
  second.done({ latencyMs: 4 });
  return rowOf(balancer, 'a:1');
}

t.test('on the outcomes\' clock an attempt ends at its pick plus its latency', async (t) => {
  // Ends 2 ms and 4 ms after the picks: the window spans them and averages the calls after its first.
  t.equal(twoCalls(true).avgLatencyMs, 4);
});

t.test('on a clock of its own the balancer reads that clock for the end', async (t) => {
  // Both ended at the frozen reading: brpc computes nothing from calls that ended at one instant, so
  // the first call's latency stays the average.
  t.equal(twoCalls(false).avgLatencyMs, 2);
});

t.test('given the kernel\'s start reading, a pick is one object per endpoint and its outcome carries the start', async (t) => {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(1), ...BRPC_EXACT_OPTIONS }, { outcomesOnBalancerClock: true });
  const list = [endpoint('a:1')];
  const now = clock.now();
  const inv = invocation();
  const first = balancer.pick(list, inv, now)!;
  const second = balancer.pick(list, inv, now)!;
  t.equal(first, second, 'no Pick object per call');
  t.equal(rowOf(balancer, 'a:1').inflight, 2);
  // As the kernel does: the outcome is the attempt record, with the pick's `now` and invocation.
  first.done({ latencyMs: 2, startedAt: now, invocation: inv });
  second.done({ latencyMs: 4, startedAt: now, invocation: inv });
  const row = rowOf(balancer, 'a:1');
  t.equal(row.inflight, 0, 'both calls left the in-flight sums');
  // The same as twoCalls(true): ends at the start plus the latency.
  t.equal(row.avgLatencyMs, 4);
});

t.test('without a start reading a pick is its own object (a stream\'s set-up, direct callers)', async (t) => {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(1), ...BRPC_EXACT_OPTIONS }, { outcomesOnBalancerClock: true });
  const list = [endpoint('a:1')];
  t.not(balancer.pick(list, invocation()), balancer.pick(list, invocation()));
});
