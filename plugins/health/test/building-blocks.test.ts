import t from 'tap';
import { ContextValues, type Endpoint, type Invocation } from '@trellis/core';
import { EMPTY_SET, RouterOrder } from '@trellis/core/spi';
import { waitFor } from '@trellis/testkit';
import { AvailabilityWindow, WarmupRouter, warmupWeight } from '../src/index.js';

// The two pure building blocks, on fake clocks: the availability window and the warm-up router.

t.test('AvailabilityWindow', async (t) => {
  t.test('counts calls and successes over the last window only, in fixed buckets', async (t) => {
    const window = new AvailabilityWindow(1000, 10); // 100 ms buckets
    window.record(0, true);
    window.record(50, false);
    window.record(150, true);
    t.same(window.totals(150), { calls: 3, successes: 2 });
    t.same(window.totals(999), { calls: 3, successes: 2 }, 'still inside the window');
    t.same(window.totals(1000), { calls: 1, successes: 1 }, 'the first bucket slid out');
    t.same(window.totals(1100), { calls: 0, successes: 0 });
  });

  t.test('a bucket reused by a later period starts from zero', async (t) => {
    const window = new AvailabilityWindow(1000, 10);
    for (let i = 0; i < 5; i++) window.record(10, false);
    window.record(1010, true); // same slot, ten buckets later
    t.same(window.totals(1010), { calls: 1, successes: 1 });
  });

  t.test('an outcome recorded late never erases the newer bucket in its slot', async (t) => {
    const window = new AvailabilityWindow(1000, 10);
    window.record(1950, true);
    window.record(950, false); // same slot, one window earlier: outside the window, dropped
    t.same(window.totals(1950), { calls: 1, successes: 1 });
    window.record(1020, false); // late but inside the window: counted
    t.same(window.totals(1950), { calls: 2, successes: 1 });
  });

  t.test('a hundred thousand calls are counted in the same ten buckets', async (t) => {
    const window = new AvailabilityWindow(10_000, 10);
    for (let i = 0; i < 100_000; i++) window.record(i / 10, i % 2 === 0);
    t.same(window.totals(9999.9), { calls: 100_000, successes: 50_000 });
    window.clear();
    t.same(window.totals(9999.9), { calls: 0, successes: 0 });
  });
});

const invocation = { excluded: EMPTY_SET, context: new ContextValues() } as unknown as Invocation;

function endpoint(port: number, startedAt: number | undefined, weight = 100): Endpoint {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight, version: '1.0.0', tags: {}, startedAt };
}

t.test('WarmupRouter: warmupWeight follows Dubbo: weight × uptime / warmup, at least 1, full after the warm-up', async (t) => {
  t.equal(warmupWeight(100, 0, 10_000), 1);
  t.equal(warmupWeight(100, -500, 10_000), 1, 'a start time in the future counts as just started');
  t.equal(warmupWeight(100, 50, 10_000), 1, 'never below 1 while ramping');
  t.equal(warmupWeight(100, 2_500, 10_000), 25);
  t.equal(warmupWeight(100, 9_999, 10_000), 99);
  t.equal(warmupWeight(100, 10_000, 10_000), 100);
  t.equal(warmupWeight(0, 5_000, 10_000), 0, 'a provider that asked for no traffic gets none');
});

t.test('ramps new endpoints, refreshes on the ramp timer\'s tick, and hands back the input once nothing ramps', async (t) => {
  let wall = 100_000;
  let version = 0;
  const router = new WarmupRouter({
    warmupMs: 10_000,
    rampStart: (e) => e.startedAt ?? 0,
    version: () => version,
    wallClock: () => wall,
    refresh: 'expire', // the ticks are this test's `expire()` calls (the plugin's WarmupDormancy makes them)
  });
  t.equal(router.order, RouterOrder.HEALTH + 1, 'runs right after the health filter');
  const old = endpoint(1, 1);
  const fresh = endpoint(2, 100_000 - 2_500);
  const list = [old, fresh];

  const first = router.route(list, invocation);
  t.not(first, list, 'a ramping endpoint needs a new list');
  t.same(first.map((e) => e.weight), [100, 25]);
  t.equal(first[0], old, 'endpoints that do not ramp are passed through as they are');

  wall += 2_000;
  t.equal(router.route(list, invocation), first, 'the same list until the next tick (every 250 ms), whatever the time');
  router.expire(); // WarmupDormancy's periodic tick
  const second = router.route(list, invocation);
  t.same(second.map((e) => e.weight), [100, 45], 'recomputed at the tick');

  router.expire();
  version++;
  t.same(router.route(list, invocation), second, 'same weights: the same array, so balancers keep their state');

  wall += 10_000;
  router.expire();
  t.equal(router.route(list, invocation), list, 'the input itself once the ramp is over');
  wall += 100_000;
  t.equal(router.route(list, invocation), list, 'and no more recomputing while nothing ramps');
});

t.test('endpoints without a start time (static addresses) are never ramped', async (t) => {
  const router = new WarmupRouter({ warmupMs: 10_000, rampStart: (e) => e.startedAt ?? 0, version: () => 0 });
  const list = [endpoint(1, undefined), endpoint(2, 0)];
  t.equal(router.route(list, invocation), list);
});

t.test('a hand-built WarmupRouter moves its ramp on its own timer; refresh: \'expire\' leaves that to its owner', async (t) => {
  const ramp = { warmupMs: 10_000, rampStart: (e: Endpoint) => e.startedAt ?? 0, version: () => 0 };
  const alone = new WarmupRouter(ramp);
  const owned = new WarmupRouter({ ...ramp, refresh: 'expire' });
  const list = [endpoint(1, 1), endpoint(2, Date.now())];
  const weight = (router: WarmupRouter): number => router.route(list, invocation)[1]!.weight;
  const [aloneFirst, ownedFirst] = [weight(alone), weight(owned)];
  t.ok(aloneFirst < 100 && ownedFirst < 100, 'both ramp the new endpoint');
  // The router's timer is unref'd (it must not keep a process alive): hold the loop open meanwhile.
  const hold = setInterval(() => undefined, 10_000);
  t.teardown(() => clearInterval(hold));
  // No event says the timer fired: poll as calls would come, bounded generously for a loaded machine.
  await waitFor(() => weight(alone) > aloneFirst, { what: 'the hand-built router\'s weight moved with no expire() call', timeoutMs: 9_000 });
  t.pass('the weight of a router used alone moved on, with no expire() call');
  t.equal(weight(owned), ownedFirst, 'refresh: \'expire\': unchanged until its owner calls expire()');
  owned.expire();
  t.ok(weight(owned) > ownedFirst, 'and moved once it did');
});

t.test('WarmupRouter refuses an unknown refresh', async (t) => {
  t.throws(
    () => new WarmupRouter({ warmupMs: 1, rampStart: () => 0, version: () => 0, refresh: 'tick' as 'timer' }),
    { code: 'ERR_INVALID_OPTION', message: /refresh/ },
  );
});
