import t from 'tap';
import { Circuit, DEFAULT_CIRCUIT_SETTINGS, NORMAL, REJECT, SlidingWindow, type CircuitOwner, type CircuitSettings } from '../src/index.js';
import { Outcome } from '../src/failure-codes.js';
import { FakeClock } from './fixtures/clocks.js';

function recorder() {
  const changes: string[] = [];
  let probes = 0;
  const owner: CircuitOwner = {
    transitioned: (_c, from, to, reason) => void changes.push(`${from}→${to}: ${reason}`),
    probesChanged: () => void probes++,
  };
  return { owner, changes, probes: () => probes };
}

function circuit(settings: Partial<CircuitSettings> = {}) {
  const clock = new FakeClock();
  const rec = recorder();
  const c = new Circuit('k', { ...DEFAULT_CIRCUIT_SETTINGS, minCalls: 10, ...settings }, rec.owner);
  /** One call through the circuit: its permit, then its outcome after `latencyMs`. */
  const call = (outcome: Outcome, latencyMs = 1) => {
    const permit = c.acquire(clock.now());
    clock.advance(latencyMs);
    if (permit !== REJECT) c.onResult(clock.now(), permit, outcome, latencyMs);
    return permit;
  };
  return { c, clock, call, ...rec };
}

t.test('the window slides one bucket at a time and forgets what fell out', async (t) => {
  const window = new SlidingWindow(1000, 10);
  window.record(0, true, false);
  window.record(50, false, true);
  window.record(950, false, false);
  t.same(window.totals(999), { calls: 3, failures: 1, slow: 1 });
  t.same(window.totals(1050), { calls: 1, failures: 0, slow: 0 }, 'the first bucket (0–99 ms) slid out at 1000 ms');
  t.same(window.totals(5000), { calls: 0, failures: 0, slow: 0 });
  window.record(5000, true, false);
  t.same(window.totals(5000), { calls: 1, failures: 1, slow: 0 }, 'a reused bucket starts from zero');
  window.reset();
  t.same(window.totals(5000), { calls: 0, failures: 0, slow: 0 });
});

t.test('a late record (a call\'s start time) counts while inside the window and never erases newer counts', async (t) => {
  const window = new SlidingWindow(1000, 10);
  window.record(1950, false, false);
  window.record(1020, true, false);
  t.same(window.totals(1950), { calls: 2, failures: 1, slow: 0 }, 'late but inside the window: counted');
  window.record(950, true, true); // the slot of 1950, one window earlier
  t.same(window.totals(1950), { calls: 2, failures: 1, slow: 0 }, 'outside the window: dropped, the 1950 bucket intact');
});

t.test('opens on the error ratio only once the window holds minCalls', async (t) => {
  const { c, call, changes } = circuit({ minCalls: 10, errorRatio: 0.5 });
  for (let i = 0; i < 9; i++) call(Outcome.FAILURE);
  t.equal(c.state, 'closed', '9 failures are below minCalls');
  call(Outcome.FAILURE);
  t.equal(c.state, 'open');
  t.match(changes, ['closed→open: 10 of 10 calls failed (100 %) in the last 10 s']);
});

t.test('below the ratio it stays closed; business answers are successes', async (t) => {
  const { c, call } = circuit({ minCalls: 10, errorRatio: 0.5 });
  // 40 %, spread so that no prefix of ≥ 10 calls reaches 50 %
  for (let i = 0; i < 100; i++) call(i % 5 === 0 || i % 5 === 2 ? Outcome.FAILURE : Outcome.SUCCESS);
  t.equal(c.state, 'closed');
  for (let i = 0; i < 100; i++) call(Outcome.IGNORED);
  t.equal(c.counts(1e9).calls, 0, 'cancelled calls are not counted at all');
});

t.test('old failures slide out of the window', async (t) => {
  const { c, call, clock } = circuit({ minCalls: 10, errorRatio: 0.5, windowMs: 1000, buckets: 10 });
  for (let i = 0; i < 9; i++) call(Outcome.FAILURE);
  clock.advance(1500);
  for (let i = 0; i < 9; i++) call(Outcome.SUCCESS);
  call(Outcome.FAILURE);
  t.equal(c.state, 'closed', 'only 1 of 10 calls in the window failed');
});

t.test('opens on the slow-call ratio when slowCallMs is set', async (t) => {
  const { c, call, changes } = circuit({ minCalls: 10, slowCallMs: 100, slowCallRatio: 0.8 });
  for (let i = 0; i < 10; i++) call(Outcome.SUCCESS, i < 7 ? 150 : 5);
  t.equal(c.state, 'closed', '70 % slow is below 80 %');
  for (let i = 0; i < 10; i++) call(Outcome.SUCCESS, 150);
  t.equal(c.state, 'open');
  t.match(changes[0], /calls took ≥ 100 ms \(\d+ %\)/);
  const fast = circuit({ minCalls: 10, slowCallMs: 0 });
  for (let i = 0; i < 50; i++) fast.call(Outcome.SUCCESS, 10_000);
  t.equal(fast.c.state, 'closed', 'slowCallMs 0 turns slow-call detection off');
});

t.test('half-open lets a bounded number of probes through; their successes close it', async (t) => {
  const { c, call, clock, changes } = circuit({ minCalls: 10, coolDownMs: 100, halfOpenProbes: 3 });
  for (let i = 0; i < 10; i++) call(Outcome.FAILURE);
  t.equal(c.acquire(clock.now()), REJECT, 'open: rejected');
  clock.advance(99);
  t.equal(c.acquire(clock.now()), REJECT, 'still cooling down');
  clock.advance(1);
  const probes = [c.acquire(clock.now()), c.acquire(clock.now()), c.acquire(clock.now())];
  t.equal(c.state, 'half-open');
  t.ok(probes.every((p) => p > 0), 'three probe permits');
  t.equal(c.acquire(clock.now()), REJECT, 'a fourth call waits for the probes');
  t.notOk(c.canProbe);
  c.onResult(clock.now(), probes[0]!, Outcome.IGNORED, 1);
  t.ok(c.canProbe, 'a cancelled probe proved nothing: its slot is free again');
  probes[0] = c.acquire(clock.now());
  for (const p of probes) c.onResult(clock.now(), p, Outcome.SUCCESS, 1);
  t.equal(c.state, 'closed');
  t.equal(c.acquire(clock.now()), NORMAL);
  t.same(changes.slice(1), ['open→half-open: cool-down of 100 ms is over', 'half-open→closed: 3 probe calls succeeded']);
});

t.test('the cool-down doubles on each failed recovery, up to the cap, and resets after a healthy spell', async (t) => {
  const { c, call, clock } = circuit({ minCalls: 10, coolDownMs: 100, maxCoolDownMs: 1000, halfOpenProbes: 1 });
  for (let i = 0; i < 10; i++) call(Outcome.FAILURE);
  const seen = [c.coolDownMs];
  for (let i = 0; i < 5; i++) {
    clock.advance(c.coolDownMs);
    call(Outcome.FAILURE); // the probe fails
    seen.push(c.coolDownMs);
  }
  t.same(seen, [100, 200, 400, 800, 1000, 1000], 'brpc: 100 ms doubling to the cap');
  clock.advance(c.coolDownMs);
  call(Outcome.SUCCESS);
  t.equal(c.state, 'closed');
  for (let i = 0; i < 10; i++) call(Outcome.FAILURE);
  t.equal(c.coolDownMs, 1000, 'tripping again soon after recovering keeps the long cool-down');
  clock.advance(1000);
  call(Outcome.SUCCESS);
  clock.advance(1000); // healthy for maxCoolDownMs
  for (let i = 0; i < 10; i++) call(Outcome.FAILURE);
  t.equal(c.coolDownMs, 100, 'after a healthy spell it starts again from coolDownMs');
});

t.test('a slow or failed probe reopens; late results from an earlier period change nothing', async (t) => {
  const { c, call, clock } = circuit({ minCalls: 10, coolDownMs: 100, slowCallMs: 50, halfOpenProbes: 2 });
  const closedPermit = c.acquire(clock.now());
  for (let i = 0; i < 10; i++) call(Outcome.FAILURE);
  clock.advance(100);
  const stale = c.acquire(clock.now());
  c.onResult(clock.now(), stale, Outcome.SUCCESS, 60); // slow probe
  t.equal(c.state, 'open');
  t.equal(c.coolDownMs, 200);
  clock.advance(200);
  const probe = c.acquire(clock.now());
  c.onResult(clock.now(), stale, Outcome.SUCCESS, 1);
  c.onResult(clock.now(), closedPermit, Outcome.FAILURE, 1);
  t.equal(c.state, 'half-open', 'neither the old probe nor a call from the closed period counts');
  c.onResult(clock.now(), probe, Outcome.SUCCESS, 1);
  c.onResult(clock.now(), c.acquire(clock.now()), Outcome.SUCCESS, 1);
  t.equal(c.state, 'closed');
});
