import t from 'tap';
import { SlidingWindowCounter } from '@trellis/core/toolkit';
import { ErrorCodes } from '@trellis/core';

const CALLS = 0;
const FAILURES = 1;

/** A clock the test moves by hand. */
function fakeClock(start = 0) {
  const clock = { at: start, now: () => clock.at };
  return clock;
}

t.test('counts over the last windowMs, sliding one bucket at a time', async (t) => {
  const clock = fakeClock();
  const window = new SlidingWindowCounter({ windowMs: 1000, buckets: 10, counters: 2, clock }); // 100 ms buckets
  window.record(0, 1, 0);
  window.record(50, 1, 1);
  window.record(150, 1, 0);
  t.same(window.sums(150), [3, 1]);
  t.same(window.sums(999), [3, 1], 'still inside the window');
  t.same(window.sums(1000), [1, 0], 'the first bucket slid out');
  t.same(window.sums(1100), [0, 0], 'everything slid out');
  clock.at = 999;
  t.equal(window.sum(CALLS), 3, 'reads the injected clock when no time is given');
  t.equal(window.sum(FAILURES), 1);
});

t.test('roll-over: a slot reused by a later period starts from zero', async (t) => {
  const window = new SlidingWindowCounter({ windowMs: 1000, buckets: 10, counters: 2 });
  for (let i = 0; i < 5; i++) window.record(10, 1, 1);
  t.ok(window.record(1010, 1, 0), 'same slot, ten buckets later');
  t.same(window.sums(1010), [1, 0], 'the five old calls are gone, not added to');
  t.ok(window.record(2500, 1, 1), 'a jump of more than a whole window');
  t.same(window.sums(2500), [1, 1], 'only the latest call is left');
});

t.test('stale writes: counted while inside the window, dropped after, never erasing newer counts', async (t) => {
  const window = new SlidingWindowCounter({ windowMs: 1000, buckets: 10, counters: 2 });
  window.record(1050, 1, 0); // slot 0, period 10
  window.record(1950, 1, 0); // slot 9, period 19
  t.ok(window.record(1020, 1, 1), 'a little late (a call\'s start time): counted in its own bucket');
  t.same(window.sums(1950), [3, 1]);
  // Period 9 maps to slot 9, which holds period 19: resetting it (the old health copy) lost a call
  // that is still in the window.
  t.notOk(window.record(950, 1, 1), 'older than the newest write\'s window: dropped');
  t.same(window.sums(1950), [3, 1], 'the newer bucket in that slot kept its count');
  // Period 5 maps to slot 5, which is empty: still dropped, it is outside the window.
  t.notOk(window.record(550, 1, 1));
  t.same(window.sums(1999), [3, 1]);
  t.notOk(window.record(Number.NaN, 1, 1), 'a broken clock (NaN) counts nothing');
  t.notOk(window.add(CALLS, 1, Number.POSITIVE_INFINITY), 'nor does an infinite time');
  t.same(window.sums(1999), [3, 1]);
});

t.test('add() and reset()', async (t) => {
  const clock = fakeClock(5000);
  const window = new SlidingWindowCounter({ windowMs: 60_000, clock });
  t.equal(window.buckets, 10, 'ten buckets by default');
  window.add();
  window.add(0, 4);
  t.equal(window.sum(), 5);
  window.reset();
  t.equal(window.sum(), 0);
  t.ok(window.add(0, 1, 0), 'after a reset, an earlier time is accepted again');
  t.equal(window.sum(0, 0), 1);
  t.throws(() => window.add(1), RangeError, 'a counter the window does not have');
});

t.test('a clock that starts below zero', async (t) => {
  const window = new SlidingWindowCounter({ windowMs: 1000, buckets: 4 });
  window.record(-900, 1);
  window.record(-10, 1);
  t.equal(window.sum(0, -10), 2);
  t.equal(window.sum(0, 200), 1, 'the first bucket slid out');
});

t.test('a hundred thousand events in the same ten buckets', async (t) => {
  const window = new SlidingWindowCounter({ windowMs: 10_000, buckets: 10, counters: 2 });
  for (let i = 0; i < 100_000; i++) window.record(i / 10, 1, i % 2);
  t.same(window.sums(9999.9), [100_000, 50_000]);
});

t.test('bad options are refused with ERR_INVALID_OPTION', async (t) => {
  for (const options of [{ windowMs: 0 }, { windowMs: Number.NaN }, { windowMs: 1000, buckets: 0 }, { windowMs: 1000, buckets: 2.5 }, { windowMs: 1000, counters: 0 }]) {
    t.throws(() => new SlidingWindowCounter(options), { code: ErrorCodes.INVALID_OPTION }, JSON.stringify(options));
  }
});
