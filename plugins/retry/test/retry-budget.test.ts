import t from 'tap';
import { LatencyTracker, RetryBudget } from '../src/index.js';

/** A clock the test moves by hand: the budget's window is about time, not speed. */
function manualClock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

t.test('retries are allowed up to ratio × calls plus the floor, then refused', (t) => {
  const clock = manualClock();
  const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 1, windowMs: 10_000 }, clock);
  let granted = 0;
  for (let i = 0; i < 100; i++) budget.deposit();
  while (budget.tryWithdraw()) granted++;
  t.equal(granted, 20, '0.1 × 100 calls + 1/s × 10 s');
  t.same(budget.snapshot(), { calls: 100, spent: 20, allowed: 20 });
  for (let i = 0; i < 10; i++) budget.deposit();
  t.ok(budget.tryWithdraw(), '10 more calls earn one more retry');
  t.notOk(budget.tryWithdraw());
  t.end();
});

t.test('calls and retries leave the window as time passes', (t) => {
  const clock = manualClock();
  const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 1000 }, clock);
  for (let i = 0; i < 10; i++) budget.deposit();
  for (let i = 0; i < 5; i++) t.ok(budget.tryWithdraw());
  t.notOk(budget.tryWithdraw(), 'spent');
  clock.advance(500);
  for (let i = 0; i < 4; i++) budget.deposit();
  t.ok(budget.tryWithdraw(), 'new calls earn retries');
  t.ok(budget.tryWithdraw());
  t.notOk(budget.tryWithdraw());
  clock.advance(600);
  t.same(budget.snapshot(), { calls: 4, spent: 2, allowed: 2 }, 'the first 10 calls and 5 retries expired');
  clock.advance(5000);
  t.same(budget.snapshot(), { calls: 0, spent: 0, allowed: 0 }, 'a long silence clears everything');
  budget.deposit();
  budget.deposit();
  t.ok(budget.tryWithdraw());
  t.end();
});

t.test('ratio 0 with a floor: a quiet client still gets its per-second retries', (t) => {
  const clock = manualClock();
  const budget = new RetryBudget({ ratio: 0, minPerSecond: 2, windowMs: 1000 }, clock);
  t.ok(budget.tryWithdraw());
  t.ok(budget.tryWithdraw());
  t.notOk(budget.tryWithdraw());
  clock.advance(1100);
  t.ok(budget.tryWithdraw(), 'the floor refills as the window moves');
  t.end();
});

t.test('the latency tracker reports a percentile once it has enough samples', (t) => {
  const tracker = new LatencyTracker(90, 10);
  for (let i = 1; i <= 9; i++) tracker.record(i);
  t.equal(tracker.value(), undefined, 'not before minSamples');
  tracker.record(10);
  t.equal(tracker.value(), 9, 'p90 of 1..10');
  for (let i = 0; i < 1000; i++) tracker.record(i % 2 === 0 ? 5 : 100);
  t.equal(tracker.value(), 100, 'p90 of a half-slow recent window');
  for (let i = 0; i < 1000; i++) tracker.record(i % 10 === 0 ? 100 : 5);
  t.equal(tracker.value(), 5, 'only the recent samples count: p90 of 10 %-slow traffic is the fast latency');
  t.end();
});
